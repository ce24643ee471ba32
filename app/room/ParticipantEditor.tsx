'use client';
// Name and colour, as others see them next to my cursor. A name fixed by a single-sign-on token
// (the room's join ack) is shown and cannot be changed here; the colour still can.
import { useEffect, useId, useState } from 'react';
import { PARTICIPANT_COLORS, validateUserInfo, type Participant } from './participant';

export function ParticipantEditor({
  participant,
  onChange,
  fixedName,
}: {
  participant: Participant;
  onChange: (p: Participant) => void;
  /** the name others see in this room, set by the sign-in: not editable */
  fixedName?: string;
}) {
  const [name, setName] = useState(participant.name);
  const nameId = useId();
  useEffect(() => setName(participant.name), [participant.name]);
  const error = validateUserInfo({ name, color: participant.color });

  const commitName = (value: string) => {
    setName(value);
    if (!validateUserInfo({ name: value, color: participant.color })) onChange({ ...participant, name: value.trim() });
  };

  return (
    <div className="lc-participant-editor" data-testid="participant-editor">
      <label htmlFor={nameId}>Your name</label>
      <input
        id={nameId}
        value={fixedName ?? name}
        disabled={!!fixedName}
        title={fixedName ? 'Your name comes from your sign-in' : undefined}
        maxLength={40}
        autoComplete="nickname"
        onChange={(e) => commitName(e.target.value)}
        // tldraw's shortcuts must not fire while typing a name
        onKeyDown={(e) => e.stopPropagation()}
        aria-invalid={error && !fixedName ? true : undefined}
      />
      {fixedName ? (
        <p className="lc-field-hint">Your name comes from your sign-in and cannot be changed here.</p>
      ) : (
        error && <p className="lc-field-error">{error}</p>
      )}
      <span className="lc-label">Your colour</span>
      <div className="lc-swatches" role="radiogroup" aria-label="Your colour">
        {PARTICIPANT_COLORS.map((c) => (
          <button
            key={c}
            type="button"
            role="radio"
            aria-checked={c.toLowerCase() === participant.color.toLowerCase()}
            aria-label={c}
            title={c}
            className="lc-swatch"
            style={{ background: c }}
            onClick={() => onChange({ ...participant, color: c })}
          />
        ))}
      </div>
    </div>
  );
}
