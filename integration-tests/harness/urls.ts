// Small helpers to turn the harness URLs into what each raw client wants.

export interface SqsEndpoint {
  /** http(s) endpoint for the AWS SDK clients (SQS and SNS share it). */
  endpoint: string;
  region: string;
  /** Emulator credentials (fauxqs checks no signature, the SDK needs some). */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** `sqs+http://127.0.0.1:4566?region=us-east-1` -> endpoint http://127.0.0.1:4566, region us-east-1. */
export function sqsEndpoint(url: string): SqsEndpoint {
  const u = new URL(url);
  const scheme = u.protocol.replace(/^sqs\+/, '').replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new Error(`not an sqs+http(s) URL: ${url}`);
  return {
    endpoint: `${scheme}://${u.host}`,
    region: u.searchParams.get('region') ?? 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}
