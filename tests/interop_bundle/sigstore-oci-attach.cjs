// An independent producer of a cosign-style image signature: Node's crypto
// signs cosign's sign Statement for IMAGE's digest in a DSSE envelope with a
// fresh P-256 key, the envelope goes into a Sigstore bundle v0.3, and
// sigstore-js's @sigstore/oci attaches the bundle to the image (referrer
// manifest, then the referrers API or the fallback tag, its own way).
//
//   node sigstore-oci-attach.cjs REGISTRY/REPO sha256:<hex> SUBJECT_SHA256_HEX KEY_OUT.pub
//
// SUBJECT_SHA256_HEX is what the statement claims (normally the image's
// digest; tests pass another to check that a verifier compares them). Writes
// the public key PEM to KEY_OUT.pub, prints the referrer digest and exits 0,
// or prints the error and exits 1.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const { attachArtifactToImage } = require('@sigstore/oci');

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

function pae(type, payload) {
  const head = `DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `;
  return Buffer.concat([Buffer.from(head), payload]);
}

async function main() {
  const [imageName, imageDigest, subjectHex, keyOut] = process.argv.slice(2);
  if (!keyOut) throw new Error('usage: sigstore-oci-attach.cjs IMAGE DIGEST SUBJECT_HEX KEY_OUT');
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  fs.writeFileSync(keyOut, publicKey.export({ type: 'spki', format: 'pem' }));

  const statement = Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { sha256: subjectHex } }],
    predicateType: SIGN_PREDICATE,
    predicate: {},
  }));
  const signature = crypto.sign('sha256', pae(PAYLOAD_TYPE, statement), privateKey);
  const bundle = {
    mediaType: BUNDLE_TYPE,
    verificationMaterial: {
      publicKey: { hint: crypto.createHash('sha256').update(spki).digest('base64') },
    },
    dsseEnvelope: {
      payload: statement.toString('base64'),
      payloadType: PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString('base64') }],
    },
  };
  const descriptor = await attachArtifactToImage({
    imageName,
    imageDigest,
    artifact: Buffer.from(JSON.stringify(bundle)),
    mediaType: BUNDLE_TYPE,
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': SIGN_PREDICATE,
    },
    credentials: null,  // anonymous: the test registries need none
  });
  process.stdout.write(`${descriptor.digest}\n`);
}

main().catch((err) => {
  process.stderr.write(`sigstore-oci-attach: ${err.stack || err}\n${err.cause ? err.cause.stack || err.cause : ''}\n`);
  process.exit(1);
});
