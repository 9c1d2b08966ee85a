// Verifies webhook deliveries with the official WorkOS Node SDK, the way a
// host app does: the body parsed as JSON (express.json()), the
// WorkOS-Signature header and the endpoint's secret go to
// workos.webhooks.constructEvent. Reads a JSON array of
// {name, body, sig_header, secret} on stdin and writes one
// {name, ok, error, event, id} per case as a JSON array on stdout.
import { WorkOS } from '@workos-inc/node';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));

// constructEvent needs no API key, but the client needs one to exist.
const workos = new WorkOS('sk_test_node_verifier');
const out = [];
for (const c of cases) {
  try {
    const ev = await workos.webhooks.constructEvent({
      payload: JSON.parse(c.body),
      sigHeader: c.sig_header,
      secret: c.secret,
    });
    out.push({ name: c.name, ok: true, event: ev.event, id: ev.id });
  } catch (e) {
    out.push({ name: c.name, ok: false, error: `${e.name}: ${e.message}` });
  }
}
process.stdout.write(JSON.stringify(out));
