// Pure logic of the NATS foreign side: which subscriptions IX6 counts as a closed client's leftovers,
// and which subscription subjects take a request subject.
import { isClientSubject, subjectMatches } from './nats';

describe('nats foreign - leftover subscriptions', () => {
  it("nats foreign - the server's per-account service-reply wildcard (_R_.<id>.>) is not a client's leftover", () => {
    // Seen in CI on the 3-node cluster: `_R_.AAK6H1.>` appeared on the node the closed connection had used.
    expect(isClientSubject('_R_.AAK6H1.>')).toBe(false);
  });

  it('nats foreign - reply inboxes and system subjects are not counted, application subjects are', () => {
    expect(isClientSubject('_INBOX.abc.*')).toBe(false);
    expect(isClientSubject('$JS.API.>')).toBe(false);
    expect(isClientSubject('sb.rq.orders')).toBe(true);
    expect(isClientSubject('_R_')).toBe(true);
    expect(isClientSubject('sb._R_.x')).toBe(true);
  });
});

describe('nats foreign - subject interest', () => {
  it('nats foreign - a wildcard subscription takes the subjects it matches, and only those', () => {
    expect(subjectMatches('sb.rq.>', 'sb.rq.orders')).toBe(true);
    expect(subjectMatches('sb.rq.>', 'sb.rq.orders.eu')).toBe(true);
    expect(subjectMatches('sb.rq.>', 'sb.rq')).toBe(false);
    expect(subjectMatches('sb.rq.>', 'sb.rt.orders')).toBe(false);
    expect(subjectMatches('sb.*.orders', 'sb.rq.orders')).toBe(true);
    expect(subjectMatches('sb.*.orders', 'sb.rq.orders.eu')).toBe(false);
    expect(subjectMatches('sb.rq.orders', 'sb.rq.orders')).toBe(true);
    expect(subjectMatches('sb.rq.orders', 'sb.rq.order')).toBe(false);
  });
});
