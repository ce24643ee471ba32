// Issue 9, findings 2 and 3, from the page's side: what the room page's own binding writes — the
// seeded document and page, the schema, and shapes of every kind made by a real (headless) tldraw
// editor with the live frame — passes the server's validation, so the server-authoritative checks
// refuse nothing an honest page sends. The page's store schema must be exactly the server's.
import {
  AssetRecordType,
  createShapeId,
  createTLStore,
  defaultAddFontsFromNode,
  defaultBindingUtils,
  defaultShapeUtils,
  Editor,
  NoteShapeUtil,
  TextShapeUtil,
  tipTapDefaultExtensions,
  toRichText,
  type TLShape,
  type TLShapeId,
} from 'tldraw';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveFrameShapeUtil } from '../../app/live/LiveFrameShapeUtil';
import { getMetaMap, TL_META_SCHEMA } from '../../lib/canvas/docLayout';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import { bindTldrawStoreToYjs } from '../../lib/canvas/tldrawYjsBinding';
import { isServerSchema } from '../../server/rooms/tldrawSchema';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, recordsOf, until, type Peer } from '../helpers/yclient';
import { stubDom } from '../helpers/headlessDom';

let server: TestServer;
let container: Record<string, unknown>;
const shapeUtils = [...defaultShapeUtils, LiveFrameShapeUtil];

beforeAll(async () => {
  container = stubDom();
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("the page's own writes pass the server's checks", () => {
  it("the page's store schema is exactly the server's", () => {
    const store = createTLStore({ shapeUtils, bindingUtils: defaultBindingUtils });
    expect(isServerSchema(store.schema.serialize())).toBe(true);
  });

  it('seeding a room and drawing shapes of every kind with a real editor: nothing refused, another peer gets it all', async () => {
    const roomId = await createRoom(server.url);
    const doc = new Y.Doc();
    const page: Peer = await connectPeer(server.url, roomId, { doc });
    const editor = new Editor({
      store: createTLStore({ shapeUtils, bindingUtils: defaultBindingUtils }),
      shapeUtils,
      bindingUtils: defaultBindingUtils,
      tools: [],
      getContainer: () => container as unknown as HTMLElement,
      // what <Tldraw> passes: rich text (geo labels, text, notes) needs it
      textOptions: { addFontsFromNode: defaultAddFontsFromNode, tipTapConfig: { extensions: tipTapDefaultExtensions } },
    } as unknown as ConstructorParameters<typeof Editor>[0]);
    const binding = bindTldrawStoreToYjs(editor.store, doc);
    try {
      const id = (n: string) => createShapeId(n) as TLShapeId;
      const asset = AssetRecordType.create({
        id: AssetRecordType.createId('pic'),
        type: 'image',
        props: { name: 'pic.png', src: `/api/uploads/${roomId}/abc`, w: 64, h: 64, mimeType: 'image/png', isAnimated: false },
      });
      editor.createAssets([asset]);
      editor.createShapes([
        { id: id('box'), type: 'geo', x: 0, y: 0, props: { w: 100, h: 80, geo: 'ellipse' } },
        { id: id('box2'), type: 'geo', x: 400, y: 0, props: { w: 100, h: 80 } },
        { id: id('box3'), type: 'geo', x: 100, y: 600, props: { w: 50, h: 50, geo: 'star' } },
        { id: id('line'), type: 'line', x: 0, y: 400 },
        { id: id('frame'), type: 'frame', x: 600, y: 0, props: { w: 300, h: 300, name: 'a frame' } },
        { id: id('img'), type: 'image', x: 0, y: 600, props: { assetId: asset.id, w: 64, h: 64 } },
        { id: id('lf'), type: LIVE_FRAME_TYPE, x: 1000, y: 0, props: { w: 256, h: 256, prompt: 'a cat', steps: 2 } } as never,
        { id: id('arrow'), type: 'arrow', x: 100, y: 40, props: { start: { x: 0, y: 0 }, end: { x: 300, y: 0 } } },
      ]);
      editor.createBindings([
        { type: 'arrow', fromId: id('arrow'), toId: id('box'), props: { terminal: 'start', normalizedAnchor: { x: 0.5, y: 0.5 }, isExact: false, isPrecise: false } },
        { type: 'arrow', fromId: id('arrow'), toId: id('box2'), props: { terminal: 'end', normalizedAnchor: { x: 0.5, y: 0.5 }, isExact: false, isPrecise: false } },
      ]);
      // Rich text needs the DOM to be measured by the editor: these go into the store directly,
      // with the utils' default props, as the page's own records would look.
      const onPage = { parentId: editor.getCurrentPageId(), rotation: 0, isLocked: false, opacity: 1, meta: {} };
      editor.store.put([
        editor.store.schema.types.shape.create({ ...onPage, id: id('text'), type: 'text', x: 0, y: 200, index: 'a8' as never,
          props: { ...new TextShapeUtil(editor).getDefaultProps(), richText: toRichText('a label') } } as unknown as TLShape),
        editor.store.schema.types.shape.create({ ...onPage, id: id('note'), type: 'note', x: 200, y: 200, index: 'a9' as never,
          props: { ...new NoteShapeUtil(editor).getDefaultProps(), richText: toRichText('a note'), color: 'yellow' } } as unknown as TLShape),
      ]);
      editor.store.update(id('box'), (b) => ({ ...b, props: { ...b.props, color: 'red', fill: 'solid', richText: toRichText('hello') } }) as TLShape);
      editor.deleteShape(id('line'));
      await until(() => (doc.getMap('tl_records').get(id('box')) as { props?: { color?: string } })?.props?.color === 'red', 5000, 'the edits reach the doc');
      await page.acked();
      expect(page.nacks).toEqual([]);
      expect(page.errors).toEqual([]);
      expect(getMetaMap(doc).get(TL_META_SCHEMA)).toBeDefined();
      const kinds = new Set([...page.records.values()].map((r) => {
        const rec = r as { typeName: string; type?: string };
        return rec.typeName === 'shape' ? rec.type : rec.typeName;
      }));
      for (const kind of ['arrow', 'asset', 'binding', 'document', 'frame', 'geo', 'image', LIVE_FRAME_TYPE, 'note', 'page', 'text']) {
        expect(kinds).toContain(kind);
      }
      const other = await connectPeer(server.url, roomId);
      try {
        await until(() => other.records.size === page.records.size, 5000, 'the other peer has everything');
        expect(recordsOf(other.records)).toEqual(recordsOf(page.records));
        expect(other.doc.getMap('tl_meta').get(TL_META_SCHEMA)).toEqual(getMetaMap(doc).get(TL_META_SCHEMA));
        expect([...other.records.keys()].filter((k) => k.startsWith('binding:'))).toHaveLength(2);
      } finally {
        other.close();
      }
    } finally {
      binding.dispose();
      editor.dispose();
      page.close();
    }
  });
});
