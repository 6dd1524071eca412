#include "presence/poll_job.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "store/functions.h"
#include "store/keys.h"
#include "util/json_fields.h"
#include "util/log.h"
#include "util/sleep.h"
#include "util/strings.h"
#include "util/when_all.h"

namespace presence::jobs {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PollJob::PollJob(store::RedisClient& redis, partition::Ownership& ownership,
                 graph::PresenceReader& reader, graph::GraphBudget& budget, PollOptions options)
    : redis_(redis),
      ownership_(ownership),
      reader_(reader),
      budget_(budget),
      options_(options),
      log_(Logger("job")) {}

Task<void> PollJob::Run() {
  while (!stopping_) {
    auto started = Clock::now();
    co_await Round();
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    // Poll at a steady pace; when nothing is owned yet, look again soon.
    auto wait = ownership_.owned_count() == 0 ? std::chrono::milliseconds(200)
                                              : options_.interval - elapsed;
    if (wait.count() > 0) co_await SleepFor(wait);
  }
}

void PollJob::Stop() { stopping_ = true; }

Task<void> PollJob::Round() {
  auto owned = ownership_.Snapshot();
  std::erase_if(rosters_, [&](const auto& entry) { return !owned.count(entry.first); });
  if (owned.empty()) co_return;
  co_await RefreshRosters(owned);

  // Each tenant's agents by Graph user; one user may back several agents.
  std::map<std::string_view, std::vector<UserSlot>> tenants;
  size_t agents = 0;
  for (const auto& [p, roster] : rosters_) {
    for (size_t i = 0; i < roster.agents.size(); ++i) {
      const auto& entry = roster.agents[i];
      tenants[*entry.tenant].push_back(
          UserSlot{entry.graph_user_id, Slot{p, static_cast<uint32_t>(i)}});
      ++agents;
    }
  }
  for (auto& [tenant, users] : tenants) {
    std::sort(users.begin(), users.end(),
              [](const UserSlot& a, const UserSlot& b) { return a.user < b.user; });
  }

  // Ask Graph, all tenants at once. Each tenant's changes are written as soon
  // as it has answered, so a slow or hanging tenant (cut at graph.timeout_ms)
  // holds back no other tenant's changes.
  auto requests_before = stats_.graph_requests;
  std::vector<Task<size_t>> polls;
  for (auto& [tenant, users] : tenants) {
    polls.push_back(PollAndApply(std::string(tenant), std::move(users), owned));
  }
  auto counts = co_await WhenAll(std::move(polls));
  size_t changed = 0;
  for (size_t count : counts) changed += count;

  // Every owned partition's poll report, fenced by the epoch it was owned at.
  std::vector<Task<void>> reports;
  for (const auto& [p, epoch] : owned) reports.push_back(Apply(p, epoch, {}));
  co_await WhenAll(std::move(reports));
  ++stats_.rounds;
  log_->debug("round {}: {} partitions, {} tenants, {} agents, {} Graph requests, {} changes",
              stats_.rounds, owned.size(), tenants.size(), agents,
              stats_.graph_requests - requests_before, changed);

  if (Clock::now() - last_sweep_ >= options_.sweep_interval) {
    last_sweep_ = Clock::now();
    co_await Sweep(owned);
  }
}

// Reads the revision of every owned partition in one round trip, then the
// rosters that moved.
Task<void> PollJob::RefreshRosters(const std::map<uint32_t, uint64_t>& owned) {
  std::vector<uint32_t> partitions;
  std::vector<Task<Result<store::RedisReply>>> revisions;
  for (const auto& [p, epoch] : owned) {
    partitions.push_back(p);
    revisions.push_back(redis_.Command(Strings("GET", store::keys::RosterRevision(p))));
  }
  auto replies = co_await WhenAll(std::move(revisions));

  std::vector<uint32_t> stale;
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (!replies[i] || replies[i]->is_error()) {
      ++stats_.redis_errors;
      continue;
    }
    uint64_t revision =
        replies[i]->is_nil() ? 0 : std::strtoull(replies[i]->str.c_str(), nullptr, 10);
    auto it = rosters_.find(partitions[i]);
    if (it == rosters_.end() || it->second.revision != revision) stale.push_back(partitions[i]);
  }

  // One partition and one page at a time: a roster read is bulk work and
  // must not queue far ahead of the API's commands on the connection.
  for (auto p : stale) {
    auto roster = co_await ReadRoster(p);
    if (!roster) {
      if (roster.error().code == "not_owned") continue;
      ++stats_.redis_errors;
      log_->warn("partition {}: roster not read: {}", p, roster.error().message);
      continue;
    }
    if (roster->skipped > 0) {
      log_->warn("partition {}: {} Graph agents have no GUID as graph_user_id and are not polled",
                 p, roster->skipped);
    }
    if (ownership_.EpochOf(p)) rosters_[p] = std::move(*roster);
  }
}

// Reads one partition's roster in pages of options_.roster_page records.
Task<Result<PartitionRoster>> PollJob::ReadRoster(uint32_t partition) {
  PartitionRoster roster;
  std::string cursor = "0";
  const std::string count = std::to_string(options_.roster_page);
  for (bool first = true; first || cursor != "0"; first = false) {
    if (stopping_ || !ownership_.EpochOf(partition)) {
      co_return MakeError("not_owned",
                          fmt::format("partition {} given up during the read", partition));
    }
    auto answer = co_await store::CallFunction(
        redis_, "presence_roster",
        Strings(store::keys::Agents(partition), store::keys::RosterRevision(partition)),
        Strings(cursor, count));
    if (!answer) co_return answer.error();
    auto page = ParseRosterPage(*answer);
    if (!page) co_return page.error();
    cursor = page->cursor;
    AddRosterPage(roster, std::move(*page), first);
  }
  FinishRoster(roster);
  co_return roster;
}

// Polls one tenant and writes its changes, per partition; returns how many.
Task<size_t> PollJob::PollAndApply(std::string tenant, std::vector<UserSlot> users,
                                   std::map<uint32_t, uint64_t> owned) {
  std::vector<Change> changes = co_await PollTenant(std::move(tenant), std::move(users));
  const size_t count = changes.size();
  std::map<uint32_t, std::vector<Change>> by_partition;
  for (auto& change : changes) by_partition[change.slot.partition].push_back(change);
  std::vector<Task<void>> writes;
  for (auto& [p, list] : by_partition) writes.push_back(Apply(p, owned[p], std::move(list)));
  co_await WhenAll(std::move(writes));
  co_return count;
}

// Polls one tenant's users in batches and returns the presence changes.
// Graph's answer is already checked (PresenceReader): malformed items, ids
// not asked for and duplicated ids are not in it.
Task<std::vector<PollJob::Change>> PollJob::PollTenant(std::string tenant,
                                                       std::vector<UserSlot> users) {
  std::vector<Change> changes;
  auto blocked = blocked_until_.find(tenant);
  if (blocked != blocked_until_.end() && Clock::now() < blocked->second) co_return changes;

  // users is sorted by user: each batch takes the next batch_size distinct
  // users and every agent they back, users[start, end).
  for (size_t start = 0, end = 0; start < users.size() && !stopping_; start = end) {
    std::vector<std::string> batch;
    for (end = start; end < users.size(); ++end) {
      if (end > start && users[end].user == users[end - 1].user) continue;
      if (batch.size() == options_.batch_size) break;
      batch.push_back(GuidToText(users[end].user));
    }

    // The Graph budget is shared by all instances through Redis.
    auto wait = co_await budget_.Reserve(tenant, 1);
    if (!wait && wait.error().code.rfind("redis", 0) == 0) ++stats_.redis_errors;
    if (wait && *wait > 0) {
      blocked_until_[tenant] = Clock::now() + std::chrono::milliseconds(*wait);
      ++stats_.budget_waits;
      log_->info("graph tenant {}: shared budget used up, next request in {} ms", tenant, *wait);
      break;
    }

    ++stats_.graph_requests;
    auto answer = co_await reader_.Read(tenant, batch);
    if (!answer) {
      ++stats_.graph_errors;
      if (answer.error().code == "throttled") {
        // Honour Retry-After; without one, back off exponentially up to a minute.
        ++stats_.graph_throttled;
        auto& backoff = backoff_[tenant];
        backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(1000)),
                           std::chrono::milliseconds(60000));
        auto retry = graph::RetryAfterMs(answer.error());
        auto wait = retry ? std::chrono::milliseconds(*retry) : backoff;
        blocked_until_[tenant] = Clock::now() + wait;
        log_->warn("graph tenant {}: {}; next request in {} ms", tenant, answer.error().message,
                   wait.count());
      } else if (answer.error().code != "bad_response" && answer.error().code != "graph_error") {
        // (Unusable answers were logged with their details by the reader.)
        log_->warn("graph tenant {}: {}", tenant, answer.error().message);
      }
      break;
    }
    backoff_.erase(tenant);
    auto asked_begin = users.begin() + start, asked_end = users.begin() + end;
    for (const auto& presence : answer->users) {
      auto user = GuidToBytes(presence.id);
      if (!user) continue;  // (the reader keeps only ids it asked for)
      auto backed =
          std::equal_range(asked_begin, asked_end, UserSlot{*user, {}},
                           [](const UserSlot& a, const UserSlot& b) { return a.user < b.user; });
      for (auto it = backed.first; it != backed.second; ++it) {
        auto roster = rosters_.find(it->slot.partition);
        if (roster == rosters_.end() || it->slot.index >= roster->second.agents.size()) continue;
        const auto& entry = roster->second.agents[it->slot.index];
        if (*entry.availability == presence.availability && *entry.activity == presence.activity) {
          continue;
        }
        changes.push_back(
            Change{it->slot, Intern(presence.availability), Intern(presence.activity)});
      }
    }
  }
  co_return changes;
}

// Writes one partition's changes (or only its poll report) if this instance
// still owns it at the same epoch; a stale refusal stops the partition.
Task<void> PollJob::Apply(uint32_t partition, uint64_t epoch, std::vector<Change> changes) {
  // In chunks, one after the other: one call with a whole partition's
  // changes would hold Redis (single-threaded) long enough for every
  // instance's lease renewals to miss their deadlines.
  size_t start = 0;
  do {
    size_t end = std::min(changes.size(), start + options_.apply_chunk);
    std::vector<Change> chunk(std::make_move_iterator(changes.begin() + start),
                              std::make_move_iterator(changes.begin() + end));
    if (!co_await ApplyChunk(partition, epoch, std::move(chunk))) co_return;
    start = end;
  } while (start < changes.size());
}

// One presence_apply call; false when the partition's writes must stop.
Task<bool> PollJob::ApplyChunk(uint32_t partition, uint64_t epoch, std::vector<Change> changes) {
  if (ownership_.EpochOf(partition) != epoch) co_return false;
  auto roster = rosters_.find(partition);
  if (roster == rosters_.end()) co_return false;

  auto observed = std::to_string(NowMs());
  std::vector<std::string> args = {ownership_.holder().token, std::to_string(epoch),
                                   std::to_string(options_.events_maxlen), "graph",
                                   std::to_string(roster->second.agents.size())};
  for (const auto& change : changes) {
    const auto& entry = roster->second.agents[change.slot.index];
    args.push_back(*entry.tenant);
    args.push_back(entry.agent);
    args.push_back(*change.availability);
    args.push_back(*change.activity);
    args.push_back(observed);
  }
  auto answer = co_await store::CallFunction(
      redis_, "presence_apply",
      Strings(store::keys::Agents(partition), store::keys::Events(partition),
              store::keys::Lease(partition), store::keys::Job(partition)),
      std::move(args));
  if (!answer) {
    ++stats_.redis_errors;
    log_->warn("partition {}: presence not written: {}", partition, answer.error().message);
    co_return false;
  }
  if (!answer->value("ok", false)) {
    if (answer->value("code", std::string()) == "stale_epoch") {
      ++stats_.stale_writes;
      ownership_.Forget(partition);
    }
    co_return false;
  }

  // Remember what was written so the next round compares against it.
  roster = rosters_.find(partition);
  if (roster == rosters_.end()) co_return false;
  for (const auto& change : changes) {
    if (change.slot.index >= roster->second.agents.size()) continue;
    roster->second.agents[change.slot.index].availability = change.availability;
    roster->second.agents[change.slot.index].activity = change.activity;
  }
  auto applied = FieldUint(*answer, "changed");
  stats_.changes_applied += applied;
  if (applied > 0) log_->debug("partition {}: {} presence changes", partition, applied);
  co_return true;
}

Task<void> PollJob::Sweep(const std::map<uint32_t, uint64_t>& owned) {
  std::vector<Task<Result<nlohmann::json>>> sweeps;
  for (const auto& [p, epoch] : owned) {
    sweeps.push_back(store::CallFunction(
        redis_, "presence_sweep", Strings(store::keys::Agents(p), store::keys::Tombstones(p)),
        Strings("1000")));
  }
  uint64_t removed = 0;
  auto answers = co_await WhenAll(std::move(sweeps));
  for (const auto& answer : answers) {
    if (answer) {
      removed += FieldUint(*answer, "removed");
    } else {
      ++stats_.redis_errors;
    }
  }
  if (removed > 0) log_->info("removed {} expired tombstones", removed);
}

}  // namespace presence::jobs
