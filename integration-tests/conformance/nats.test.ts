// The conformance catalogue against NATS JetStream (nats://). See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { natsSuite } from './suites';

conformanceAgainst({ ...natsSuite, name: 'nats (jetstream)' });
