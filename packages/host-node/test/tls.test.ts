/** TLS, and mTLS where a verified client certificate's subject DN is the operator. */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fakeEkPem, startServer, type TestServer } from "../../../test-support/server.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "itl-tls-"))
const file = (name: string) => path.join(dir, name)
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })

const makeCa = (name: string) => {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`))
}
const issue = (ca: string, name: string, subject: string, extra: string) => {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
    "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`))
  fs.writeFileSync(file(`${name}.ext`), extra)
  openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`),
    "-CAcreateserial", "-days", "2", "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`))
}

let server: TestServer

beforeAll(async () => {
  makeCa("ca")
  makeCa("rogue-ca")
  issue("ca", "server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
  issue("ca", "admin", "/O=ITLusions/OU=IT/CN=admin", "extendedKeyUsage=clientAuth\n")
  issue("rogue-ca", "rogue", "/O=ITLusions/OU=IT/CN=admin", "extendedKeyUsage=clientAuth\n")
  server = await startServer({
    env: { ITL_TLS_CERT: file("server.pem"), ITL_TLS_KEY: file("server.key"), ITL_TLS_CLIENT_CA: file("ca.pem") }
  })
})
afterAll(async () => {
  await server?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const request = (method: string, urlPath: string, options: { client?: string; token?: string; body?: unknown } = {}) =>
  new Promise<{ status: number; body: any }>((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = https.request(server.url + urlPath, {
      method,
      ca: fs.readFileSync(file("ca.pem")),
      ...(options.client ? { cert: fs.readFileSync(file(`${options.client}.pem`)), key: fs.readFileSync(file(`${options.client}.key`)) } : {}),
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {})
      }
    }, (res) => {
      let text = ""
      res.on("data", (d) => (text += d))
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }))
    })
    req.on("error", reject)
    if (payload) req.write(payload)
    req.end()
  })

describe("TLS", () => {
  it("serves HTTPS", async () => {
    expect(server.url).toMatch(/^https:\/\//)
    expect((await request("GET", "/healthz")).status).toBe(200)
  })

  it("a verified client certificate identifies the operator by its subject DN", async () => {
    const registered = await request("POST", "/api/v1/machines/register", { body: { ek_public: fakeEkPem(), hostname: "mtls-1" } })
    const id = registered.body.machine.id
    const approved = await request("POST", `/api/v1/machines/${id}/approve`, { client: "admin", body: {} })
    expect(approved.status).toBe(200)
    expect(approved.body.approved_by).toBe("CN=admin,OU=IT,O=ITLusions")
    const audit = await request("GET", `/api/v1/audit?target_id=${id}&action=machine.approved`, { client: "admin" })
    expect(audit.body.entries[0]).toMatchObject({ actor: "CN=admin,OU=IT,O=ITLusions", actor_kind: "operator" })
  })

  it("ignores a certificate from another CA, and still accepts bearer tokens", async () => {
    expect((await request("GET", "/api/v1/machines", { client: "rogue" })).status).toBe(401)
    expect((await request("GET", "/api/v1/machines")).status).toBe(401)
    expect((await request("GET", "/api/v1/machines", { token: server.adminToken })).status).toBe(200)
  })

  it("the certificate's default role (operator) cannot administer tokens", async () => {
    expect((await request("GET", "/api/v1/operators/tokens", { client: "admin" })).status).toBe(403)
  })
})
