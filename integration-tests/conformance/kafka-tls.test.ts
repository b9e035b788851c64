// The conformance catalogue against Kafka's TLS listener: SASL_SSL with SCRAM-SHA-512, the server
// certificate signed by the throwaway local CA of scripts/brokers (URL from SWITCHBOARD_TEST_KAFKA_TLS_URL:
// kafka://switchboard:<password>@127.0.0.1:9094?ssl=true&sasl=scram-sha-512&ca=<.brokers/tls/ca.pem>).
import { conformanceAgainst } from './define';
import { kafkaSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...kafkaSuite, name: 'kafka (TLS + SCRAM)', urlEnv: 'SWITCHBOARD_TEST_KAFKA_TLS_URL', loadCount: VARIANT_LOAD_COUNT });
