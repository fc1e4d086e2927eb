import { nativeEnvelope, type Envelope } from './envelope.ts';
import { pythiaEnvelope } from './pythia-envelope.ts';

/** message.envelope / output.envelope, as the DSL names them. */
export type EnvelopeName = 'none' | 'pythia';

/** The envelope a pipeline uses: message.envelope `none` is Pythia's own (native), `pythia` Python Pythia's. */
export function envelopeNamed(name: EnvelopeName = 'none'): Envelope {
  return name === 'pythia' ? pythiaEnvelope : nativeEnvelope;
}
