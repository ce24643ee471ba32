'use client';
// Name and colour, as others see them next to my cursor.
import { useEffect, useId, useState } from 'react';
import { PARTICIPANT_COLORS, validateUserInfo, type Participant } from './participant';

export function ParticipantEditor({
  participant,
  onChange,
}: {
  participant: Participant;
  onChange: (p: Participant) => void;
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
        value={name}
        maxLength={40}
        autoComplete="nickname"
        onChange={(e) => commitName(e.target.value)}
        // tldraw's shortcuts must not fire while typing a name
        onKeyDown={(e) => e.stopPropagation()}
        aria-invalid={error ? true : undefined}
      />
      {error && <p className="lc-field-error">{error}</p>}
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
