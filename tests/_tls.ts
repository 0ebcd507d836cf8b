/**
 * A certificate for TLS tests, made at test time with the openssl CLI (not
 * a test file itself): self-signed, for `localhost` and `127.0.0.1`, and by
 * default a leaf (basicConstraints CA:FALSE). TLS clients such as Deno's
 * (rustls) refuse a CA certificate as a server's own (`CaUsedAsEndEntity`),
 * even when told to trust it, and `openssl req -x509` makes a CA certificate
 * unless told otherwise. A client trusts the leaf itself (`ca`).
 *
 * @module
 */
import { requirePeer, runCommand, tail } from "./_peers.ts";

/** A certificate and its key, as text and as files; dispose to remove them. */
export interface TestCertificate extends AsyncDisposable {
  /** The certificate (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** What a client trusts to accept it: the certificate itself, self-signed. */
  ca: string;
  certFile: string;
  keyFile: string;
  /** The file of `ca` (the certificate's own file). */
  caFile: string;
}

/**
 * Make a self-signed certificate for `localhost` and `127.0.0.1`.
 *
 * @param options.ca Make a CA certificate instead of a leaf (to test that clients refuse it).
 * @returns undefined when openssl is missing outside CI (the test then returns); in CI that throws.
 */
export async function makeCertificate(
  options: { ca?: boolean } = {},
): Promise<TestCertificate | undefined> {
  if (!await requirePeer("openssl", ["version"])) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "tls_test_" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const result = await runCommand("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    ...["-nodes", "-days", "2", "-subj", "/CN=localhost"],
    ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ...options.ca ? [] : ["-addext", "basicConstraints=critical,CA:FALSE"],
    ...["-keyout", keyFile, "-out", certFile],
  ], { timeoutMs: 20_000 });
  if (!result.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`openssl could not make a certificate: ${tail(result.stderr)}`);
  }
  const cert = await Deno.readTextFile(certFile);
  return {
    cert,
    key: await Deno.readTextFile(keyFile),
    ca: cert,
    certFile,
    keyFile,
    caFile: certFile,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
