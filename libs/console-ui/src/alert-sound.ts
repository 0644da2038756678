/**
 * The critical-alert tone: generated with WebAudio (an oscillator, no sound file to fetch).
 * Browsers start audio only after a user gesture (Chrome's autoplay policy): `unlock()` is called
 * from one (the sound toggle, the login button) and creates or resumes the AudioContext.
 */
export interface AlertSound {
  /** Creates/resumes the audio context; call it inside a click or key handler. */
  unlock(): void;
  /** Plays two short beeps (880 Hz, 180 ms each); does nothing before `unlock` or without WebAudio. */
  play(): void;
}

/** Tone frequency (Hz) and beep length (s): a high A, short enough not to mask speech in the room. */
const TONE_HZ = 880;
const BEEP_S = 0.18;

export function createAlertSound(): AlertSound {
  let context: AudioContext | null = null;
  return {
    unlock() {
      if (typeof AudioContext === 'undefined') return;
      context ??= new AudioContext();
      if (context.state === 'suspended') void context.resume();
    },
    play() {
      if (context === null || context.state !== 'running') return;
      const start = context.currentTime;
      for (const offset of [0, 0.3]) {
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.type = 'sine';
        oscillator.frequency.value = TONE_HZ;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + BEEP_S);
        oscillator.connect(gain).connect(context.destination);
        oscillator.start(start + offset);
        oscillator.stop(start + offset + BEEP_S + 0.02);
      }
    },
  };
}
