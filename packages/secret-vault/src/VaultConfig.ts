/** secret_vault's own settings, read once through Effect Config. */
import { Config, Option, Redacted } from "effect"

const hex64 = /^[0-9a-fA-F]{64}$/

const hexKey = (name: string) =>
  Config.string(name).pipe(
    Config.validate({ message: "must be 64 hexadecimal characters (32 bytes); make one with `openssl rand -hex 32`", validation: (v) => hex64.test(v) }),
    Config.map(Redacted.make)
  )

export interface VaultConfigShape {
  readonly masterKey: Option.Option<Redacted.Redacted<string>>
  readonly masterKeyPrevious: Option.Option<Redacted.Redacted<string>>
  readonly passphrase: Option.Option<Redacted.Redacted<string>>
  readonly allowEphemeral: boolean
}

export const vaultConfig: Config.Config<VaultConfigShape> = Config.all({
  masterKey: Config.option(hexKey("ITL_SHARED_SECRET_MASTER_KEY")),
  masterKeyPrevious: Config.option(hexKey("ITL_SHARED_SECRET_MASTER_KEY_PREVIOUS")),
  passphrase: Config.option(
    Config.string("ITL_SHARED_SECRET_PASSPHRASE").pipe(
      Config.validate({ message: "must not be empty", validation: (v) => v.length > 0 }),
      Config.map(Redacted.make)
    )
  ),
  allowEphemeral: Config.boolean("ITL_SHARED_SECRET_ALLOW_EPHEMERAL").pipe(Config.withDefault(false))
})
