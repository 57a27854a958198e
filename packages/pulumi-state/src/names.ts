/** What the CLI accepts as names (it asserts on what the server returns), checked before anything is stored. */
import { Effect } from "effect"
import { ORG_PATTERN } from "./PulumiConfig.js"
import { badField } from "./PulumiError.js"

const NAME = /^[a-zA-Z0-9_.-]{1,100}$/
const TAG_NAME = /^[a-zA-Z0-9_.:-]{1,40}$/
const MAX_TAG_VALUE = 256
const MAX_TAGS = 100

export interface StackRef {
  readonly org: string
  readonly project: string
  readonly stack: string
}

export const checkOrg = (org: string, field = "orgName") =>
  ORG_PATTERN.test(org) ? Effect.void : badField(field, "must be 3–40 letters, digits, '-' or '_', starting and ending with a letter or digit")

export const checkName = (value: string, field: string) =>
  NAME.test(value) ? Effect.void : badField(field, "must be 1–100 letters, digits, '-', '_' or '.'")

export const checkRef = (ref: StackRef) =>
  Effect.all([checkOrg(ref.org), checkName(ref.project, "projectName"), checkName(ref.stack, "stackName")], { discard: true })

/** A tag map as the CLI sends it: names `[a-zA-Z0-9-_.:]{1,40}`, string values of at most 256 characters. */
export const checkTags = (value: unknown, field: string) =>
  Effect.gen(function* () {
    if (value === undefined || value === null) return {} as Record<string, string>
    if (typeof value !== "object" || Array.isArray(value)) return yield* badField(field, "must be an object of tag names to strings")
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length > MAX_TAGS) return yield* badField(field, `at most ${MAX_TAGS} tags`)
    const tags: Record<string, string> = {}
    for (const [name, tag] of entries) {
      if (!TAG_NAME.test(name)) return yield* badField(`${field}.${name.slice(0, 60)}`, "tag names are 1–40 letters, digits or -_.:")
      if (typeof tag !== "string") return yield* badField(`${field}.${name}`, "must be a string")
      if (tag.length > MAX_TAG_VALUE) return yield* badField(`${field}.${name}`, `at most ${MAX_TAG_VALUE} characters`)
      tags[name] = tag
    }
    return tags
  })

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
