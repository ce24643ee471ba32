// Node stand-ins for the DOM a headless tldraw Editor touches, shared by tests that build one.

/** The few DOM pieces tldraw's Editor touches when it is built without a page (text measuring
 * element, container, window size): enough to run the store, geometry and bounds in Node. */
export function stubDom(): Record<string, unknown> {
  const g = globalThis as Record<string, unknown>;
  const element = (doc: unknown): Record<string, unknown> => ({
    ownerDocument: doc,
    style: { setProperty() {}, removeProperty() {} },
    classList: { add() {}, remove() {}, contains: () => false, toggle() {} },
    setAttribute() {},
    removeAttribute() {},
    getAttribute: () => null,
    appendChild: (c: unknown) => c,
    removeChild() {},
    remove() {},
    append() {},
    addEventListener() {},
    removeEventListener() {},
    dispatchEvent: () => true,
    focus() {},
    blur() {},
    getBoundingClientRect: () => ({ x: 0, y: 0, width: 1280, height: 800, top: 0, left: 0, right: 1280, bottom: 800 }),
    querySelector: () => null,
    querySelectorAll: () => [],
    contains: () => false,
    children: [],
    childNodes: [],
    clientWidth: 1280,
    clientHeight: 800,
    textContent: '',
  });
  const doc: Record<string, unknown> = {
    addEventListener() {},
    removeEventListener() {},
    title: '',
    activeElement: null,
    fonts: { add() {}, delete() {}, check: () => true, ready: Promise.resolve(), addEventListener() {}, removeEventListener() {} },
  };
  doc.createElement = () => element(doc);
  doc.body = element(doc);
  doc.defaultView = globalThis;
  g.window ??= globalThis;
  g.addEventListener ??= () => {};
  g.removeEventListener ??= () => {};
  g.devicePixelRatio ??= 1;
  g.matchMedia ??= () => ({ matches: false, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {} });
  g.requestAnimationFrame ??= (cb: (t: number) => void) => setTimeout(() => cb(Date.now()), 1);
  g.cancelAnimationFrame ??= (id: ReturnType<typeof setTimeout>) => clearTimeout(id);
  return element(doc);
}
