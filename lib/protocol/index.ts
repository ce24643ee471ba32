export * from './limits';
export * from './events';
export * from './http';
