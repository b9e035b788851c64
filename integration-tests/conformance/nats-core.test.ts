// The conformance catalogue against core NATS (nats+core://, no JetStream) on the same server.
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';
import { natsSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...natsSuite, name: 'nats (core)', foreign: natsForeign('core'), variant: (url) => url.replace(/^nats(\+js)?:\/\//i, 'nats+core://'), loadCount: VARIANT_LOAD_COUNT });
