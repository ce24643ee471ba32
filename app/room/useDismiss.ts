'use client';
// Closing a pop-up the way people expect: Escape (refocusing the button that opened it) or a press
// outside the pop-up and its button. Used by the people pop-up and the Share dialog.
import { useEffect, type RefObject } from 'react';

export function useDismiss(
  open: boolean,
  onClose: (refocus: boolean) => void,
  popup: RefObject<HTMLElement | null>,
  anchor: RefObject<HTMLElement | null>,
) {
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.stopPropagation();
      onClose(true);
    };
    const onPointer = (e: PointerEvent) => {
      const t = e.target as Node | null;
      if (t && (popup.current?.contains(t) || anchor.current?.contains(t))) return;
      onClose(false);
    };
    document.addEventListener('keydown', onKey, true);
    document.addEventListener('pointerdown', onPointer, true);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      document.removeEventListener('pointerdown', onPointer, true);
    };
  }, [open, onClose, popup, anchor]);
}
