// The onnxruntime-node execution providers the engine can be asked for: one list for the engine
// (sessions), its command line, the preset manifest and the downloader, which must not load
// onnxruntime-node just to know them.
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'coreml', 'dml', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
