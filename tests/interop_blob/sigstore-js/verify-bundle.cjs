// Verifies a Sigstore bundle over a file with a public key, using sigstore-js
// (@sigstore/verify) as an independent implementation. Key-based, offline:
// an empty trusted root, no transparency log, timestamp or CT requirement.
// The key is registered under the bundle's own hint, so the hint is not
// what is being tested; the signature and the artifact are.
//
//   node verify-bundle.cjs BUNDLE.json KEY.pub FILE
// Prints "sigstore-js: verified" and exits 0, or prints the error and exits 1.
'use strict';
const fs = require('node:fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { crypto } = require('@sigstore/core');

function main() {
  const [bundlePath, keyPath, artifactPath] = process.argv.slice(2);
  if (!artifactPath) throw new Error('usage: verify-bundle.cjs BUNDLE KEY FILE');
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const key = crypto.createPublicKey(fs.readFileSync(keyPath, 'utf8'));
  const root = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  });
  const trust = toTrustMaterial(root, (asked) => {
    if (asked !== hint) throw new Error(`unexpected key hint ${asked}`);
    return { publicKey: key, validFor: () => true };
  });
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(artifactPath)));
  console.log('sigstore-js: verified');
}

try {
  main();
} catch (err) {
  console.error(`sigstore-js: ${err && err.message ? err.message : err}`);
  process.exit(1);
}
