// presencectl agents register|deregister|show|list|import.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli_context.h"
#include "ctl/agent_calls.h"
#include "ctl/agent_input.h"
#include "ctl/deployment.h"
#include "ctl/output.h"
#include "ctl/roster_csv.h"
#include "ctl/roster_import.h"
#include "partition/partition_hash.h"

namespace presence::ctl {
namespace {

constexpr uint32_t kDefaultPartitions = 64;
constexpr size_t kImportWindow = 512;
constexpr uint32_t kListPage = 500;

struct AgentArgs {
  std::string tenant;
  std::string agent;
  std::string graph_user_id;
  bool push = false;
  std::vector<std::string> labels;
  std::string seq;
  uint32_t partitions = kDefaultPartitions;
  bool partitions_given = false;
  uint32_t limit = 0;
  std::string file;
};

void AddIds(CLI::App* command, AgentArgs& args) {
  command->add_option("TENANT", args.tenant, "Tenant id")->required()->check(IdValidator("tenant"));
  command->add_option("AGENT", args.agent, "Agent id")->required()->check(IdValidator("agent"));
}

CLI::Option* AddSeq(CLI::App* command, AgentArgs& args) {
  return command->add_option("--seq", args.seq, "Caller sequence number (unsigned 64-bit)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            Status valid = ValidateSeq(value);
            return valid ? std::string() : valid.error().message;
          },
          "N", "seq"));
}

void AddPartitionsOption(CLI::App* command, AgentArgs& args) {
  command
      ->add_option("--partitions", args.partitions,
                   "Partition count when the deployment is not initialised yet")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
}

// The refusal of a Function as an error: "acme/alice: stale_seq: ...".
int Refused(CliContext& context, const AgentArgs& args, const nlohmann::json& answer) {
  if (context.options.json) context.PrintJson(answer);
  std::string code = answer.value("code", "refused");
  std::string message = answer.value("message", "");
  std::cerr << fmt::format("presencectl: error: {}/{}: {}: {}", args.tenant, args.agent, code,
                           message)
            << std::endl;
  return kExitFailure;
}

// Connection, Functions and P for a command on existing agents.
struct Session {
  std::unique_ptr<RedisConnection> redis;
  std::unique_ptr<FunctionClient> functions;
  uint32_t partitions = 0;
};

Result<Session> OpenSession(CliContext& context, const AgentArgs* may_initialise) {
  Result<std::unique_ptr<RedisConnection>> redis = context.Connect();
  if (!redis) return redis.error();
  Session session;
  session.redis = std::move(*redis);
  session.functions = std::make_unique<FunctionClient>(*session.redis);
  Result<uint32_t> partitions =
      may_initialise != nullptr
          ? EnsurePartitionCount(*session.functions, may_initialise->partitions,
                                 may_initialise->partitions_given)
          : RequirePartitionCount(*session.redis);
  if (!partitions) return partitions.error();
  session.partitions = *partitions;
  return session;
}

int RunRegister(CliContext& context, const AgentArgs& args) {
  // Everything typed is checked before Redis is asked.
  store::PutAgentCommand command;
  command.tenant = args.tenant;
  command.agent = args.agent;
  command.source = args.push ? "push" : "graph";
  if (!args.push) {
    Result<std::string> guid = NormaliseGuid(args.graph_user_id);
    if (!guid) return context.Usage(guid.error().message);
    command.graph_user_id = *guid;
  }
  Labels labels;
  for (const std::string& label : args.labels) {
    if (Status added = AddLabel(label, labels); !added) return context.Usage(added.error().message);
  }
  Result<std::string> labels_json = LabelsJson(labels);
  if (!labels_json) return context.Usage(labels_json.error().message);
  command.labels_json = *labels_json;
  if (!args.seq.empty()) command.seq = args.seq;

  Result<Session> session = OpenSession(context, &args);
  if (!session) return context.Fail(session.error());
  AgentCallOptions options{session->partitions};
  Result<nlohmann::json> answer = session->functions->Call(PutAgentCall(options, command));
  if (!answer) return context.Fail(answer.error());
  if (!answer->value("ok", false)) return Refused(context, args, *answer);

  if (context.options.json) {
    (*answer)["outcome"] = PutOutcome(*answer);
    (*answer)["partition"] = partition::PartitionOf(args.tenant, args.agent, session->partitions);
    context.PrintJson(*answer);
  } else if (!context.options.quiet) {
    std::cout << fmt::format("{} {}/{} (version {})", PutOutcome(*answer), args.tenant, args.agent,
                             FieldText((*answer)["agent"], "version"))
              << std::endl;
  }
  return kExitOk;
}

int RunDeregister(CliContext& context, const AgentArgs& args) {
  store::DeleteAgentCommand command{args.tenant, args.agent, std::nullopt, std::nullopt};
  if (!args.seq.empty()) command.seq = args.seq;

  Result<Session> session = OpenSession(context, nullptr);
  if (!session) return context.Fail(session.error());
  AgentCallOptions options{session->partitions};
  Result<nlohmann::json> answer = session->functions->Call(DeleteAgentCall(options, command));
  if (!answer) return context.Fail(answer.error());
  if (!answer->value("ok", false)) return Refused(context, args, *answer);

  bool changed = answer->value("changed", false);
  if (context.options.json) {
    (*answer)["outcome"] = changed ? "deregistered" : "unchanged";
    context.PrintJson(*answer);
  } else if (!context.options.quiet) {
    std::cout << (changed ? fmt::format("deregistered {}/{} (version {})", args.tenant, args.agent,
                                        FieldText((*answer)["agent"], "version"))
                          : fmt::format("unchanged {}/{}: not registered", args.tenant, args.agent))
              << std::endl;
  }
  return kExitOk;
}

// One "field: value" line per field of an agent record.
void PrintRecord(const nlohmann::json& record, uint32_t partition) {
  auto line = [](std::string_view field, const std::string& value) {
    std::cout << fmt::format("{:<16}{}\n", fmt::format("{}:", field), value);
  };
  line("tenant", FieldText(record, "tenant"));
  line("agent", FieldText(record, "agent"));
  line("partition", std::to_string(partition));
  for (const char* field : {"state", "version", "seq", "source", "graph_user_id", "labels",
                            "availability", "activity", "presence_source"}) {
    line(field, FieldText(record, field));
  }
  for (const char* field : {"presence_at", "observed_at", "created_at", "updated_at"}) {
    line(field, FormatTimestamp(FieldInt(record, field)));
  }
  if (record.contains("expires_at")) {
    line("expires_at", FormatTimestamp(FieldInt(record, "expires_at")));
  }
}

int RunShow(CliContext& context, const AgentArgs& args) {
  Result<Session> session = OpenSession(context, nullptr);
  if (!session) return context.Fail(session.error());
  Result<nlohmann::json> answer =
      session->functions->Call(GetAgentCall(session->partitions, args.tenant, args.agent));
  if (!answer) return context.Fail(answer.error());
  uint32_t partition = partition::PartitionOf(args.tenant, args.agent, session->partitions);
  (*answer)["partition"] = partition;
  if (!answer->value("ok", false)) return Refused(context, args, *answer);

  if (context.options.json) {
    context.PrintJson(*answer);
  } else {
    PrintRecord((*answer)["agent"], partition);
  }
  return kExitOk;
}

// Up to `limit` agents (0 = all) of one partition, in the partition's order.
Result<std::vector<nlohmann::json>> ListPartition(FunctionClient& functions, uint32_t partition,
                                                  const std::string& tenant, uint32_t limit) {
  std::vector<nlohmann::json> agents;
  std::string cursor = "0";
  std::string after;
  while (true) {
    uint32_t page = limit == 0 ? kListPage : std::min<uint32_t>(kListPage, limit - agents.size());
    Result<nlohmann::json> answer =
        functions.Call(ListAgentsCall(partition, tenant, cursor, after, page));
    if (!answer) return answer.error();
    if (!answer->value("ok", false)) {
      return MakeError(answer->value("code", "refused"),
                       fmt::format("presence_agent_list on partition {}: {}", partition,
                                   answer->value("message", "")));
    }
    for (auto& record : (*answer)["agents"]) agents.push_back(std::move(record));
    bool full = limit != 0 && agents.size() >= limit;
    if (answer->value("done", true) || full) return agents;
    cursor = answer->value("cursor", "0");
    after = answer->value("after", "");
  }
}

int RunList(CliContext& context, const AgentArgs& args) {
  Result<Session> session = OpenSession(context, nullptr);
  if (!session) return context.Fail(session.error());

  // The first `limit` found, then sorted: partitions keep no id order.
  std::vector<nlohmann::json> agents;
  for (uint32_t p = 0; p < session->partitions; ++p) {
    if (args.limit != 0 && agents.size() >= args.limit) break;
    uint32_t wanted = args.limit == 0 ? 0 : args.limit - static_cast<uint32_t>(agents.size());
    Result<std::vector<nlohmann::json>> part =
        ListPartition(*session->functions, p, args.tenant, wanted);
    if (!part) return context.Fail(part.error());
    std::move(part->begin(), part->end(), std::back_inserter(agents));
  }
  std::sort(agents.begin(), agents.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("agent", "") < b.value("agent", "");
  });
  if (args.limit != 0 && agents.size() > args.limit) agents.resize(args.limit);

  if (context.options.json) {
    context.PrintJson(
        {{"ok", true}, {"tenant", args.tenant}, {"count", agents.size()}, {"agents", agents}});
    return kExitOk;
  }
  Table table(
      {"AGENT", "SOURCE", "GRAPH_USER_ID", "VERSION", "AVAILABILITY", "ACTIVITY", "LABELS"});
  for (const auto& a : agents) {
    table.AddRow({FieldText(a, "agent"), FieldText(a, "source"), FieldText(a, "graph_user_id"),
                  FieldText(a, "version"), FieldText(a, "availability"), FieldText(a, "activity"),
                  FieldText(a, "labels")});
  }
  table.Print(std::cout);
  context.Note(fmt::format("tenant {}: {} agents listed", args.tenant, agents.size()));
  return kExitOk;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("bad_file", fmt::format("{}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int RunImport(CliContext& context, const AgentArgs& args) {
  // The whole file is checked before anything is written.
  Result<std::string> text = ReadFile(args.file);
  if (!text) return context.Fail(text.error());
  RosterParse roster = ParseRosterCsv(args.file, *text);
  if (!roster.ok()) {
    for (const std::string& error : roster.errors)
      std::cerr << "presencectl: error: " << error << "\n";
    if (roster.error_count > roster.errors.size()) {
      std::cerr << fmt::format("presencectl: error: ... and {} more\n",
                               roster.error_count - roster.errors.size());
    }
    return context.Fail(MakeError("bad_roster", fmt::format("{}: {} invalid rows, nothing imported",
                                                            args.file, roster.error_count)));
  }

  Result<Session> session = OpenSession(context, &args);
  if (!session) return context.Fail(session.error());
  bool show_progress = isatty(STDERR_FILENO) == 1 && !context.options.quiet;
  auto progress = [&](size_t done) {
    if (show_progress)
      std::cerr << fmt::format("\rimporting: {}/{} rows", done, roster.rows.size());
  };
  AgentCallOptions options{session->partitions};
  Result<ImportSummary> summary =
      ImportRoster(*session->functions, options, roster.rows, args.file, kImportWindow, progress);
  if (show_progress) std::cerr << "\r\033[K" << std::flush;
  if (!summary) return context.Fail(summary.error());

  for (const std::string& refusal : summary->refusals) {
    std::cerr << "presencectl: error: " << refusal << "\n";
  }
  if (context.options.json) {
    context.PrintJson({{"ok", summary->refused == 0},
                       {"rows", summary->rows},
                       {"created", summary->created},
                       {"updated", summary->updated},
                       {"unchanged", summary->unchanged},
                       {"refused", summary->refused},
                       {"seconds", summary->seconds},
                       {"refusals", summary->refusals}});
  } else if (!context.options.quiet) {
    std::cout << FormatImportSummary(*summary) << std::endl;
  }
  return summary->refused == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddAgentsCommands(CLI::App& app, CliContext& context) {
  CLI::App* agents = app.add_subcommand("agents", "Register, inspect and import agents");
  agents->require_subcommand(1);
  auto args = std::make_shared<AgentArgs>();

  CLI::App* reg = agents->add_subcommand("register", "Register an agent or update it");
  AddIds(reg, *args);
  CLI::Option_group* source = reg->add_option_group("source", "Where presence comes from");
  source->add_option("--graph-user-id", args->graph_user_id,
                     "Microsoft Graph user object id (GUID): presence read from Graph");
  source->add_flag("--push", args->push, "Presence pushed by another system");
  source->require_option(1);
  reg->add_option("--label", args->labels, "A label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  AddSeq(reg, *args);
  AddPartitionsOption(reg, *args);
  reg->callback([&context, args, reg] {
    args->partitions_given = reg->count("--partitions") > 0;
    context.SetAction([&context, args] { return RunRegister(context, *args); });
  });

  CLI::App* dereg = agents->add_subcommand("deregister", "Deregister an agent");
  AddIds(dereg, *args);
  AddSeq(dereg, *args);
  dereg->callback([&context, args] {
    context.SetAction([&context, args] { return RunDeregister(context, *args); });
  });

  CLI::App* show = agents->add_subcommand("show", "Show an agent's registration and presence");
  AddIds(show, *args);
  show->callback([&context, args] {
    context.SetAction([&context, args] { return RunShow(context, *args); });
  });

  CLI::App* list = agents->add_subcommand("list", "List a tenant's agents in id order");
  list->add_option("TENANT", args->tenant, "Tenant id")->required()->check(IdValidator("tenant"));
  list->add_option("--limit", args->limit, "At most N agents (0: all)")->capture_default_str();
  list->callback([&context, args] {
    context.SetAction([&context, args] { return RunList(context, *args); });
  });

  CLI::App* import = agents->add_subcommand("import", "Register the agents of a CSV roster");
  import->add_option("FILE", args->file, "CSV file: tenant,agent,source,graph_user_id[,labels]")
      ->required();
  AddPartitionsOption(import, *args);
  import->callback([&context, args, import] {
    args->partitions_given = import->count("--partitions") > 0;
  context.SetAction([&context, args] { return RunImport(context, *args); });
});
}  // namespace presence::ctl

}  // namespace presence::ctl
