/**
 * Certificates for TLS tests, made at test time with the openssl CLI (not a
 * test file itself): a CA of the test's own, and a server certificate it
 * signed for localhost and 127.0.0.1 (rustls, which Deno uses, refuses a CA
 * certificate as a server's own).
 *
 * @module
 */
import { requirePeer } from "./_peers.ts";

/** A server certificate and its key (PEM), the CA that signed it, and their files. */
export interface TestCertificate extends AsyncDisposable {
  /** The CA certificate clients trust (PEM). */
  ca: string;
  cert: string;
  key: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Make a self-signed certificate for `localhost` and `127.0.0.1`.
 *
 * @returns undefined when openssl is missing outside CI (the test then returns).
 */
export async function makeCertificate(): Promise<TestCertificate | undefined> {
  if (!await requirePeer("openssl", ["version"])) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "tls_test_" });
  const caFile = `${dir}/ca.pem`;
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  try {
    await openssl([
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA"],
      ...["-keyout", `${dir}/ca.key`, "-out", caFile],
    ]);
    await openssl([
      ...["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"],
      ...["-keyout", keyFile, "-out", `${dir}/cert.csr`],
    ]);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    await openssl([
      ...["x509", "-req", "-in", `${dir}/cert.csr`, "-CA", caFile, "-CAkey", `${dir}/ca.key`],
      ...["-CAcreateserial", "-days", "2", "-extfile", `${dir}/ext.cnf`, "-out", certFile],
    ]);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    ca: await Deno.readTextFile(caFile),
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    caFile,
    certFile,
    keyFile,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
