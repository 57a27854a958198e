/**
 * Data the benchmarks need, made through the real server's API: an operator
 * token (role "operator") and a registry of machines to read back.
 */
import { generateEkPems } from "./keys.js"

const call = async (url, path, { token, body } = {}) => {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  })
  const json = await response.json().catch(() => undefined)
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

export const createOperatorToken = async (url, adminToken) =>
  (await call(url, "/api/v1/operators/tokens", { token: adminToken, body: { name: "bench", role: "operator" } })).token

/** Registers `count` machines (hostnames bench-setup-N), 16 at a time; returns their ids. */
export const registerMachines = async (url, count) => {
  const pems = generateEkPems(count)
  const ids = new Array(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const { machine } = await call(url, "/api/v1/machines/register", {
        body: { ek_public: pems[i], hostname: `bench-setup-${i}` }
      })
      ids[i] = machine.id
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  return ids
}
