// presencectl keys create, list and revoke: the API keys of the REST API. The key itself
// is printed once, at creation; Redis holds only its SHA-256.
#include <iostream>

#include <fmt/format.h>

#include "cli_context.h"
#include "ctl/api_keys.h"
#include "ctl/output.h"

namespace presence::ctl {
namespace {

struct KeysArgs {
  std::string tenant;
  bool admin = false;
  std::string name;
  std::string id;
};

// What `keys list` shows of a record: never the hash.
nlohmann::json Listed(const auth::KeyRecord& record) {
  nlohmann::json out = auth::ToJson(record);
  out.erase("sha256");
  return out;
}

int RunCreate(CliContext& context, const KeysArgs& args) {
  if (args.admin == !args.tenant.empty()) {
    return context.Usage("keys create needs exactly one of --tenant TENANT and --admin");
  }
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  KeyRequest request{args.admin ? "admin" : "tenant", args.tenant, args.name};
  Result<CreatedKey> created = CreateApiKey(**redis, request);
  if (!created) return context.Fail(created.error());

  if (context.options.json) {
    nlohmann::json out = Listed(created->record);
    out["ok"] = true;
    out["key"] = created->key;
    context.PrintJson(out);
    return kExitOk;
  }
  std::cout << created->key << std::endl;
  context.Note(fmt::format("created {} key {}{}; it is shown only now, store it safely",
                           request.scope, created->record.id,
                           args.admin ? "" : " for tenant " + args.tenant));
  return kExitOk;
}

int RunList(CliContext& context, const KeysArgs& args) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<std::vector<auth::KeyRecord>> records = ListApiKeys(**redis, args.tenant);
  if (!records) return context.Fail(records.error());

  if (context.options.json) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auth::KeyRecord& record : *records) keys.push_back(Listed(record));
    context.PrintJson({{"ok", true}, {"keys", keys}});
    return kExitOk;
  }
  Table table({"ID", "SCOPE", "TENANT", "CREATED_AT", "NAME"});
  for (const auth::KeyRecord& record : *records) {
    table.AddRow({record.id, record.scope, record.admin() ? "-" : record.tenant,
                  FormatTimestamp(static_cast<int64_t>(record.created_at)),
                  record.name.empty() ? "-" : record.name});
  }
  table.Print(std::cout);
  return kExitOk;
}

int RunRevoke(CliContext& context, const KeysArgs& args) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return context.Fail(redis.error());
  Result<bool> revoked = RevokeApiKey(**redis, args.id);
  if (!revoked) return context.Fail(revoked.error());
  if (!*revoked) {
    return context.Fail(MakeError("unknown_key", fmt::format("no API key with id {}", args.id)));
  }
  if (context.options.json) {
    context.PrintJson({{"ok", true}, {"id", args.id}, {"revoked", true}});
  } else {
    context.Note(fmt::format("revoked key {}; instances refuse it within auth.cache_ms", args.id));
  }
  return kExitOk;
}

CLI::Validator KeyIdValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return auth::IsKeyId(value) ? std::string()
                                    : fmt::format(
                                          "key id '{}': expected 12 hex characters "
                                          "(the part after pk_ in the key)",
                                          value);
      },
      "ID", "key_id");
}

}  // namespace

void AddKeysCommands(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* keys = app.add_subcommand("keys", "Create, list and revoke API keys of the REST API");
  keys->require_subcommand(1);

  CLI::App* create = keys->add_subcommand("create", "Create a key and print it once");
  create->add_option("--tenant", args->tenant, "Key for this tenant's routes only")
      ->check(IdValidator("tenant"));
  create->add_flag("--admin", args->admin, "Key for every route, /metrics included");
  create->add_option("--name", args->name, "A note on who uses the key");
  create->callback([&context, args] {
    context.SetAction([&context, args] { return RunCreate(context, *args); });
  });

  CLI::App* list = keys->add_subcommand("list", "List keys (ids, never the keys)");
  list->add_option("--tenant", args->tenant, "Only this tenant's keys")
      ->check(IdValidator("tenant"));
  list->callback([&context, args] {
    context.SetAction([&context, args] { return RunList(context, *args); });
  });

  CLI::App* revoke = keys->add_subcommand("revoke", "Delete a key");
  revoke->add_option("id", args->id, "The key id (the 12 characters after pk_)")
      ->required()
      ->check(KeyIdValidator());
  revoke->callback([&context, args] {
    context.SetAction([&context, args] { return RunRevoke(context, *args); });
  });
}

}  // namespace presence::ctl
