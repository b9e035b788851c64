export {
  BROKER_NAMES,
  brokerSource,
  brokerUrl,
  brokersRequired,
  describeWithBroker,
  dockerAvailable,
  localUrlOf,
  urlEnvVar,
} from './brokers';
export type { BrokerHandle, BrokerName, BrokerSource } from './brokers';
export { BROKERS_SCRIPT, NATIVE_URLS, REPO_ROOT, canRestartBroker, restartBroker } from './broker-control';
export { IMAGES } from './images';
export { sqsEndpoint } from './urls';
export type { SqsEndpoint } from './urls';
export { clusterControl, clusterRequired, clusterUrlEnvVar, missingClusterReason } from './cluster-control';
export type { ClusterName } from './cluster-control';
