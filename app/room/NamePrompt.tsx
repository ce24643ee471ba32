'use client';
// Asked once per browser, on the first room it joins without having been on the landing page
// (people who follow a shared link): the name others will see, prefilled with the random one,
// which they may keep by skipping. Either answer is remembered (localStorage).
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { markNameAsked, validateUserInfo, type Participant } from './participant';

export function NamePrompt({
  participant,
  onDone,
}: {
  participant: Participant;
  /** called with the chosen name, or null when skipped */
  onDone: (name: string | null) => void;
}) {
  const [name, setName] = useState(participant.name);
  const input = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const error = validateUserInfo({ name, color: participant.color });

  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);

  const finish = (chosen: string | null) => {
    markNameAsked();
    onDone(chosen);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!error) finish(name.trim());
  };

  return (
    <div className="lc-blocker lc-name-prompt" data-testid="name-prompt">
      <form
        className="lc-card lc-name-card"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onSubmit={submit}
        // tldraw's shortcuts must not fire while typing; Escape skips
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === 'Escape') finish(null);
        }}
      >
        <h2 id={titleId}>What name should others see?</h2>
        <p className="lc-field-hint">It shows next to your cursor. You can change it and your colour later from the people button.</p>
        <div className="lc-row">
          <span className="lc-avatar lc-name-avatar" style={{ background: participant.color }} aria-hidden>
            {(name.trim() || '?').slice(0, 1).toUpperCase()}
          </span>
          <input
            ref={input}
            data-testid="name-prompt-input"
            aria-label="Your name"
            value={name}
            maxLength={40}
            autoComplete="nickname"
            onChange={(e) => setName(e.target.value)}
            aria-invalid={error ? true : undefined}
          />
        </div>
        {error && <p className="lc-field-error">{error}</p>}
        <div className="lc-name-actions">
          <button type="button" className="lc-button" data-testid="name-prompt-skip" onClick={() => finish(null)}>
            Skip
          </button>
          <button type="submit" className="lc-button lc-primary" data-testid="name-prompt-join" disabled={!!error}>
            Join
          </button>
        </div>
      </form>
    </div>
  );
}
