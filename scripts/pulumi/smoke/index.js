"use strict";
// A program that needs no downloaded provider: a dynamic provider (served by the
// pulumi-resource-pulumi-nodejs script next to the CLI) inside a ComponentResource,
// plain and secret config, and stack outputs.
const pulumi = require("@pulumi/pulumi");

const config = new pulumi.Config();
const greeting = config.get("greeting") || "hello";
const apiKey = config.requireSecret("apiKey");
const count = config.getNumber("count") || 1;

// The provider is serialized into the state with the resource, so it captures nothing.
const itemProvider = {
  async create(inputs) {
    return { id: `item-${inputs.label}`, outs: { ...inputs, keyLength: inputs.apiKey.length } };
  },
  async diff(id, olds, news) {
    const changed = olds.label !== news.label || olds.apiKey !== news.apiKey;
    return { changes: changed, replaces: olds.label !== news.label ? ["label"] : [] };
  },
  async update(id, olds, news) {
    return { outs: { ...news, keyLength: news.apiKey.length } };
  },
  async delete() {}
};

class Item extends pulumi.dynamic.Resource {
  constructor(name, args, opts) {
    // Keys listed here become outputs of the resource; keyLength is computed by create().
    super(itemProvider, name, { label: args.label, apiKey: args.apiKey, keyLength: undefined }, opts);
  }
}

class Bundle extends pulumi.ComponentResource {
  constructor(name, args, opts) {
    super("itl:smoke:Bundle", name, {}, opts);
    this.items = [];
    for (let i = 0; i < args.count; i++) {
      this.items.push(new Item(`${name}-item-${i}`, { label: `${args.label}-${i}`, apiKey: args.apiKey }, { parent: this }));
    }
    this.registerOutputs({ itemIds: this.items.map((item) => item.id) });
  }
}

const bundle = new Bundle("bundle", { label: greeting, apiKey, count });

exports.greeting = greeting;
exports.itemIds = bundle.items.map((item) => item.id);
exports.keyLength = bundle.items[0].keyLength;
exports.apiKey = apiKey;
