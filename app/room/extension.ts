// The seam for features that live on the room canvas (the live frame in app/live/ is one):
// each feature describes what it adds, and the room page merges all of them into <Tldraw>.
import type { ComponentType } from 'react';
import type {
  Editor,
  TLAnyBindingUtilConstructor,
  TLAnyShapeUtilConstructor,
  TLComponents,
  TLStateNodeConstructor,
  TLUiOverrides,
} from 'tldraw';
import type { RoomContextValue } from './RoomContext';

export interface RoomExtension {
  /** for error messages */
  name: string;
  shapeUtils?: readonly TLAnyShapeUtilConstructor[];
  bindingUtils?: readonly TLAnyBindingUtilConstructor[];
  tools?: readonly TLStateNodeConstructor[];
  /** tools, actions and translations for tldraw's UI (e.g. a toolbar item for a tool) */
  overrides?: TLUiOverrides;
  /** tldraw component slots this feature replaces (SharePanel belongs to the room page) */
  components?: Omit<TLComponents, 'SharePanel' | 'InFrontOfTheCanvas'>;
  /** rendered in front of the canvas, beside the other features' (all are composed) */
  InFrontOfTheCanvas?: ComponentType;
  /** runs once the editor is bound to the room document; may return a cleanup */
  onMount?: (editor: Editor, room: RoomContextValue) => void | (() => void);
}
