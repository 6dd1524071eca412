#!lua name=presence
--
-- The Redis Functions library "presence": every command of the service is one
-- call of one of these Functions, so each command validates, changes state and
-- appends its event atomically. The key layout and the API of every Function
-- are specified in docs/redis-layout.md; this file follows it.
--
-- Conventions:
-- * Every Function (but presence_version) answers one JSON text:
--   {"ok":true,...} or {"ok":false,"code":"...","message":"...",...}.
-- * Times are Redis TIME in ms. Integers are always written in plain decimal
--   (never "1e+12"), and empty arrays are "[]", never "{}": the library's own
--   small encoder writes the answers. Agent records, which are flat, go
--   through cjson (C, much faster); they hold no array and no integer beyond
--   cjson's 14 significant digits (ms times have 13).
-- * Agent records are stored as MessagePack arrays (see "Agent records"),
--   about a sixth of their JSON size; records stored as JSON by library
--   versions before 6 are still read.
-- * seq values are unsigned 64-bit decimal strings, compared as strings and
--   never turned into Lua numbers (a double cannot hold them exactly).
-- * labels are a JSON text stored as a string; they are never decoded here.
-- * Ids and GUIDs are validated by the callers. A Function given the wrong
--   number of arguments or a malformed number answers code "bad_argument".
--
-- The C++ side reads the version from the next line; keep its exact form and
-- bump it whenever this file changes behaviour.
local LIBRARY_VERSION = "13"

local UNKNOWN = 'PresenceUnknown'

------------------------------------------------------------------------------
-- JSON output
------------------------------------------------------------------------------

local ARRAY_MT = {}
local RAW_MT = {}
local RECORD_MT = {}
-- JSON null. While the library loads only `redis` is reachable (no cjson,
-- no setmetatable), so this is a plain table compared by identity.
local NULL = {}

-- Marks a Lua table as a JSON array, so that an empty one encodes as [].
local function array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

-- Wraps JSON text that is already encoded to embed it as is.
local function raw(text)
  return setmetatable({ text = text }, RAW_MT)
end

-- Marks a table as an agent record: flat, so cjson encodes it.
local function as_record(t)
  return setmetatable(t, RECORD_MT)
end

local function encode_string(s)
  if not s:find('[%c"\\]') then
    return '"' .. s .. '"'
  end
  return cjson.encode(s)
end

local function encode_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    return 'null'
  end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then
    return string.format('%d', n)
  end
  return string.format('%.17g', n)
end

local encode

local function encode_table(t)
  local mt = getmetatable(t)
  if mt == RAW_MT then
    return t.text
  end
  if mt == RECORD_MT then
    local _ = t.graph_user_id  -- a GUID still in bytes becomes text (RECORD_MT.__index)
    return cjson.encode(t)
  end
  local parts = {}
  if mt == ARRAY_MT then
    for i = 1, #t do
      parts[i] = encode(t[i])
    end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  for k, v in pairs(t) do
    parts[#parts + 1] = encode_string(tostring(k)) .. ':' .. encode(v)
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

encode = function(v)
  local kind = type(v)
  if kind == 'string' then
    return encode_string(v)
  elseif kind == 'number' then
    return encode_number(v)
  elseif kind == 'boolean' then
    return v and 'true' or 'false'
  elseif kind == 'table' and v ~= NULL then
    return encode_table(v)
  end
  return 'null'  -- nil, NULL and cjson.null
end

local function refuse(code, message, extra)
  local answer = extra or {}
  answer.ok = false
  answer.code = code
  answer.message = message
  return encode(answer)
end

local function bad_argument(name, message)
  return refuse('bad_argument', name .. ': ' .. message)
end

------------------------------------------------------------------------------
-- Values
------------------------------------------------------------------------------

-- Redis server time in ms.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int_text(n)
  return string.format('%d', n)
end

-- A non-negative integer argument, or nil when it is not one.
local function parse_int(text)
  if type(text) ~= 'string' or not text:match('^%d+$') or #text > 15 then
    return nil
  end
  return tonumber(text)
end

-- A decimal u64 without its leading zeros ("0" for zero).
local function normalize_seq(s)
  local digits = s:gsub('^0+', '')
  if digits == '' then
    return '0'
  end
  return digits
end

-- True when seq a is greater than seq b, both decimal strings.
local function seq_greater(a, b)
  a, b = normalize_seq(a), normalize_seq(b)
  if #a ~= #b then
    return #a > #b
  end
  return a > b
end

local function same_decimal(a, b)
  return normalize_seq(a) == normalize_seq(b)
end

local function check_argc(name, args, count)
  if #args ~= count then
    return bad_argument(name, string.format('expected %d arguments, got %d', count, #args))
  end
  return nil
end

------------------------------------------------------------------------------
-- Agent records and events
------------------------------------------------------------------------------

local function agent_field(tenant, agent)
  return tenant .. '/' .. agent
end

-- Agent records are stored as a MessagePack array, in this order (a field
-- the record lacks is false):
--   1 format (1), 2 state, 3 version, 4 seq, 5 source, 6 graph_user_id,
--   7 labels, 8 created_at, 9 updated_at, 10 availability, 11 activity,
--   12 presence_at, 13 observed_at, 14 presence_source, 15 expires_at.
-- state, source, presence_source, availability and activity are stored as
-- their index in the tables below (a value not in a table as itself), and a
-- GUID as its 16 bytes. tenant and agent are the hash field's two halves.
local RECORD_FORMAT = 1
local AT_STATE, AT_VERSION, AT_SEQ, AT_SOURCE, AT_GUID, AT_LABELS, AT_CREATED_AT, AT_UPDATED_AT,
    AT_AVAILABILITY, AT_ACTIVITY, AT_PRESENCE_AT, AT_OBSERVED_AT, AT_PRESENCE_SOURCE,
    AT_EXPIRES_AT = 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
local STATES = { 'registered', 'deregistered' }
local SOURCES = { 'graph', 'push' }
local AVAILABILITIES = { 'Available', 'AvailableIdle', 'Away', 'BeRightBack', 'Busy',
                         'BusyIdle', 'DoNotDisturb', 'Offline', UNKNOWN }
local ACTIVITIES = { 'Available', 'Away', 'BeRightBack', 'Busy', 'DoNotDisturb', 'InACall',
                     'InAConferenceCall', 'Inactive', 'InAMeeting', 'Offline', 'OffWork',
                     'OutOfOffice', UNKNOWN, 'Presenting', 'UrgentInterruptionsOnly' }

-- Lookup tables, made at the first call (string functions are not reachable
-- while the library loads). guid_bytes holds, for a record just unpacked, its
-- GUID's 16 bytes: the text form is made only when something reads
-- graph_user_id (RECORD_MT.__index), which a presence change never does.
local codes, hex_to_byte, byte_to_hex, guid_bytes

local function make_tables()
  codes = {}
  for _, names in ipairs({ STATES, SOURCES, AVAILABILITIES, ACTIVITIES }) do
    local index = {}
    for i, name in ipairs(names) do index[name] = i end
    codes[names] = index
  end
  guid_bytes = setmetatable({}, { __mode = 'k' })
  hex_to_byte, byte_to_hex = {}, {}
  for b = 0, 255 do
    local h = string.format('%02x', b)
    hex_to_byte[h] = string.char(b)
    byte_to_hex[string.char(b)] = h
  end
end

local function guid_to_bytes(guid)
  if not guid:match('^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$')
      or guid:find('%u') then
    return guid
  end
  return (guid:gsub('-', ''):gsub('%x%x', hex_to_byte))
end

local function bytes_to_guid(bytes)
  if #bytes ~= 16 then
    return bytes
  end
  local h = bytes:gsub('.', byte_to_hex)
  return h:sub(1, 8) .. '-' .. h:sub(9, 12) .. '-' .. h:sub(13, 16) .. '-' .. h:sub(17, 20)
      .. '-' .. h:sub(21, 32)
end

-- graph_user_id of a record whose GUID is still in bytes: made on first read.
RECORD_MT.__index = function(record, key)
  if key ~= 'graph_user_id' or not guid_bytes or not guid_bytes[record] then
    return nil
  end
  local text = bytes_to_guid(guid_bytes[record])
  rawset(record, key, text)
  return text
end

-- The GUID of a record as stored: its bytes as unpacked when graph_user_id
-- was not read or set since.
local function packed_guid(r)
  local text = rawget(r, 'graph_user_id')
  if text == nil then
    return guid_bytes[r] or ''
  end
  return guid_to_bytes(text)
end

-- A record table as the stored array. Written out field by field: records
-- are packed and unpacked once per command and per presence change, the hot
-- path of the library.
local function record_to_array(r)
  if not codes then make_tables() end
  local state_codes, source_codes = codes[STATES], codes[SOURCES]
  local seq, expires_at = r.seq, r.expires_at
  if seq == nil then seq = false end
  if expires_at == nil then expires_at = false end
  local availability, activity = r.availability or UNKNOWN, r.activity or UNKNOWN
  return {
    RECORD_FORMAT, state_codes[r.state] or r.state, r.version, seq,
    source_codes[r.source or ''] or r.source or false, packed_guid(r),
    r.labels or '{}', r.created_at or 0, r.updated_at or 0,
    codes[AVAILABILITIES][availability] or availability,
    codes[ACTIVITIES][activity] or activity, r.presence_at or 0, r.observed_at or 0,
    source_codes[r.presence_source or ''] or r.presence_source or false, expires_at,
  }
end

local function pack_record(r)
  return cmsgpack.pack(record_to_array(r))
end
-- The stored array of a hash value; raises an error when it is not one.
-- A JSON record of a library version before 6 is converted.
local function unpack_array(text)
  local v
  if text:byte(1) == 123 then  -- "{"
    local r = cjson.decode(text)
    -- Checked before conversion: a JSON object without the record's
    -- fields would otherwise become an array that looks like one.
    if type(r) ~= 'table' or type(r.version) ~= 'number' or type(r.state) ~= 'string' then
      error('not an agent record')
    end
    v = record_to_array(r)
  else
    v = cmsgpack.unpack(text)
  end
  if type(v) ~= 'table' or v[1] ~= RECORD_FORMAT or type(v[AT_VERSION]) ~= 'number' then
    error('not an agent record')
  end
  return v
end

-- The record table of a stored array.
local function array_to_record(v, tenant, agent)
  -- A code names a value; anything else is the value itself; false is absent.
  local guid = v[AT_GUID]
  local bytes = nil
  if #guid == 16 then
    bytes, guid = guid, nil
  end
  local record = setmetatable({
    tenant = tenant, agent = agent, state = STATES[v[AT_STATE]] or v[AT_STATE],
    version = v[AT_VERSION], seq = v[AT_SEQ] or nil,
    source = SOURCES[v[AT_SOURCE]] or v[AT_SOURCE] or nil, graph_user_id = guid,
    labels = v[AT_LABELS], created_at = v[AT_CREATED_AT], updated_at = v[AT_UPDATED_AT],
    availability = AVAILABILITIES[v[AT_AVAILABILITY]] or v[AT_AVAILABILITY],
    activity = ACTIVITIES[v[AT_ACTIVITY]] or v[AT_ACTIVITY],
    presence_at = v[AT_PRESENCE_AT], observed_at = v[AT_OBSERVED_AT],
    presence_source = SOURCES[v[AT_PRESENCE_SOURCE]] or v[AT_PRESENCE_SOURCE] or nil,
    expires_at = v[AT_EXPIRES_AT] or nil,
  }, RECORD_MT)
  if bytes then
    if not codes then make_tables() end
    guid_bytes[record] = bytes
  end
  return record
end

local function unpack_record(text, tenant, agent)
  if text:byte(1) == 123 then  -- "{": stored by a library version before 6
    return as_record(cjson.decode(text))
  end
  return array_to_record(unpack_array(text), tenant, agent)
end
local function split_field(field)
  local slash = field:find('/', 1, true)
  return field:sub(1, slash - 1), field:sub(slash + 1)
end

-- The record of a hash field, or nil and the reason when it cannot be read.
local function decode_record(field, text, tenant, agent)
  if not tenant then
    tenant, agent = split_field(field)
  end
  local ok, record = pcall(unpack_record, text, tenant, agent)
  if not ok or type(record) ~= 'table' or type(record.version) ~= 'number' then
    return nil, 'unreadable'
  end
  return record
end

local function corrupt(field)
  return refuse('corrupt_record',
                string.format('agent record %s cannot be read; run presencectl rebuild --repair',
                              field))
end

-- The stored record, nil when absent, or nil and "unreadable". tenant and
-- agent may be given when the caller knows them (saves a split).
local function try_load_record(agents_key, field, tenant, agent)
  local text = redis.call('HGET', agents_key, field)
  if not text then
    return nil
  end
  return decode_record(field, text, tenant, agent)
end

-- The stored array (for presence_apply, which needs no record table), nil
-- when absent, or nil and "unreadable".
local function try_load_array(agents_key, field)
  local text = redis.call('HGET', agents_key, field)
  if not text then
    return nil
  end
  local ok, v = pcall(unpack_array, text)
  if not ok then
    return nil, 'unreadable'
  end
  return v
end

-- As try_load_record, but a record that cannot be read ends the call with a
-- corrupt_record refusal (see guarded()). Only for calls that have not
-- written anything yet.
local function load_record(agents_key, field)
  local record, problem = try_load_record(agents_key, field)
  if problem then
    error({ refusal = corrupt(field) })
  end
  return record
end

local function store_record(agents_key, field, record)
  redis.call('HSET', agents_key, field, pack_record(record))
end

local function is_registered(record)
  return record ~= nil and record.state == 'registered'
end

-- What the Graph roster holds of an agent, "" when it is not Graph-tracked.
local function roster_identity(record)
  if is_registered(record) and record.source == 'graph' then
    return 'graph:' .. (record.graph_user_id or '')
  end
  return ''
end

-- How far past maxlen a stream may grow before it is trimmed: trimming then
-- runs once every this many events instead of at each one, and removes
-- whole stream nodes (stream-node-max-entries, 100 by default).
local TRIM_SLACK = 100
-- The most entries one trim removes.
local TRIM_MOST = 1000

-- How many entries at the head of the stream no consumer group has pending
-- (delivered and not acknowledged), counting at most `most`: the entries
-- before the oldest pending entry of every group. nil when no group has any
-- pending (everything beyond maxlen may go). Entries not yet delivered to a
-- group are not pending: a group that reads behind the retention misses
-- them, as with any retention, instead of holding the stream forever.
local function unpending_head(events_key, most)
  local oldest = nil
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', events_key)) do
    local info = {}
    for i = 1, #group, 2 do
      info[group[i]] = group[i + 1]
    end
    if (tonumber(info['pending']) or 0) > 0 then
      local first = redis.call('XPENDING', events_key, info['name'])[2]
      local head = redis.call('XRANGE', events_key, '-', '(' .. first, 'COUNT', int_text(most))
      oldest = math.min(oldest or most, #head)
      if oldest == 0 then
        return 0
      end
    end
  end
  return oldest
end

-- Trims a stream longer than maxlen + TRIM_SLACK back towards maxlen, never
-- past an entry that a consumer group has pending (DESIGN.md invariant 10):
-- a consumer that never acknowledges keeps the stream growing until its
-- entries are acknowledged or claimed. Removes at most `most` entries
-- (TRIM_MOST when not given).
local function trim_events(events_key, maxlen, most)
  local limit = tonumber(maxlen)
  local length = redis.call('XLEN', events_key)
  if length <= limit + TRIM_SLACK then
    return
  end
  local excess = math.min(length - limit, most or TRIM_MOST)
  local unpending = unpending_head(events_key, excess) or excess
  if unpending > 0 then
    redis.call('XTRIM', events_key, 'MAXLEN', '~', maxlen, 'LIMIT', int_text(unpending))
  end
end

-- maxlen has been checked (checked_maxlen); "0" keeps every event.
local function append_event(events_key, maxlen, event_type, tenant, agent, version, at, data)
  local text, version_text, when = encode(data), int_text(version), int_text(at)
  redis.call('XADD', events_key, '*', 'type', event_type, 'tenant', tenant, 'agent', agent,
             'version', version_text, 'at', when, 'data', text)
  if maxlen ~= '0' then
    trim_events(events_key, maxlen)
  end
end
-- The maxlen argument in the form XADD takes, or nil when it is not a
-- non-negative integer. Checked before anything is written.
local function checked_maxlen(text)
  local limit = parse_int(text)
  if not limit then
    return nil
  end
  return int_text(limit)
end

-- Loads an agent for a command: an expired tombstone counts as absent.
local function load_for_command(agents_key, field, now)
  local record = load_record(agents_key, field)
  if record and record.state == 'deregistered' and (record.expires_at or 0) <= now then
    return nil
  end
  return record
end

-- The checks shared by put and delete (if_match, then seq). Returns a refusal
-- text or nil.
local function check_preconditions(record, seq, if_match)
  local current = record and record.version or 0
  if if_match ~= '' and not same_decimal(if_match, int_text(current)) then
    return refuse('version_mismatch',
                  string.format('if_match %s does not match version %d', if_match, current),
                  { agent = record or NULL })
  end
  if seq ~= '' and record and record.seq and not seq_greater(seq, record.seq) then
    return refuse('stale_seq',
                  string.format('seq %s is not greater than the last applied seq %s',
                                seq, record.seq),
                  { agent = record })
  end
  return nil
end

------------------------------------------------------------------------------
-- presence_version, presence_init
------------------------------------------------------------------------------

local function presence_version()
  return LIBRARY_VERSION
end

local function presence_init(keys, args)
  local bad = check_argc('presence_init', args, 1)
  if bad then return bad end
  local partitions = parse_int(args[1])
  if not partitions or partitions < 1 then
    return bad_argument('presence_init', 'partitions must be a positive integer')
  end

  local meta = keys[1]
  local created = redis.call('HSETNX', meta, 'partitions', int_text(partitions)) == 1
  if created then
    redis.call('HSET', meta, 'created_at', int_text(now_ms()))
  end
  local stored = tonumber(redis.call('HGET', meta, 'partitions'))
  return encode({ ok = true, partitions = stored, created = created })
end

------------------------------------------------------------------------------
-- presence_agent_put
------------------------------------------------------------------------------

local function presence_agent_put(keys, args)
  local bad = check_argc('presence_agent_put', args, 8)
  if bad then return bad end
  local agents_key, tombs_key, rev_key, events_key = keys[1], keys[2], keys[3], keys[4]
  local tenant, agent, source, graph_user_id, labels, seq, if_match, maxlen =
      unpack(args, 1, 8)
  maxlen = checked_maxlen(maxlen)
  if not maxlen then
    return bad_argument('presence_agent_put', 'maxlen must be a non-negative integer')
  end
  local field = agent_field(tenant, agent)
  local now = now_ms()

  local record = load_for_command(agents_key, field, now)
  local holds = is_registered(record) and record.source == source
      and record.graph_user_id == graph_user_id and record.labels == labels

  -- A resend of the last applied command (same seq, effect holds) is a retry,
  -- not a stale command: it succeeds below with changed false.
  local retry = holds and seq ~= '' and record.seq ~= nil and same_decimal(seq, record.seq)
  local refusal = check_preconditions(record, retry and '' or seq, if_match)
  if refusal then return refusal end

  -- The configuration already holds: record a newer seq, change nothing else.
  if holds then
    if seq ~= '' and record.seq ~= seq then
      record.seq = seq
      store_record(agents_key, field, record)
    end
    return encode({ ok = true, changed = false, created = false, agent = record })
  end

  local before = roster_identity(record)
  local created = not is_registered(record)
  local next_record
  if created then
    -- New, or back from a tombstone: the version continues, presence restarts.
    next_record = as_record({
      tenant = tenant, agent = agent, state = 'registered',
      version = (record and record.version or 0) + 1,
      seq = record and record.seq or nil,
      created_at = now, availability = UNKNOWN, activity = UNKNOWN,
      presence_at = 0, observed_at = 0, presence_source = source,
    })
    redis.call('ZREM', tombs_key, field)
  else
    next_record = record
    next_record.version = record.version + 1
  end
  next_record.source = source
  next_record.graph_user_id = graph_user_id
  next_record.labels = labels
  next_record.updated_at = now
  if seq ~= '' then
    next_record.seq = seq
  end
  store_record(agents_key, field, next_record)

  if roster_identity(next_record) ~= before then
    redis.call('INCR', rev_key)
  end
  append_event(events_key, maxlen, created and 'agent.registered' or 'agent.updated',
               tenant, agent, next_record.version, now,
               { source = source,
                 graph_user_id = graph_user_id ~= '' and graph_user_id or NULL,
                 labels = raw(labels), seq = next_record.seq or NULL })
  return encode({ ok = true, changed = true, created = created, agent = next_record })
end

------------------------------------------------------------------------------
-- presence_agent_delete
------------------------------------------------------------------------------

local function presence_agent_delete(keys, args)
  local bad = check_argc('presence_agent_delete', args, 6)
  if bad then return bad end
  local agents_key, tombs_key, rev_key, events_key = keys[1], keys[2], keys[3], keys[4]
  local tenant, agent, seq, if_match, maxlen, tombstone_text = unpack(args, 1, 6)
  maxlen = checked_maxlen(maxlen)
  if not maxlen then
    return bad_argument('presence_agent_delete', 'maxlen must be a non-negative integer')
  end
  local tombstone_ms = parse_int(tombstone_text)
  if not tombstone_ms then
    return bad_argument('presence_agent_delete', 'tombstone_ms must be a non-negative integer')
  end
  local field = agent_field(tenant, agent)
  local now = now_ms()

  local record = load_for_command(agents_key, field, now)

  -- A resend of the deregistration that made this tombstone is a retry.
  local retry = record ~= nil and not is_registered(record) and seq ~= ''
      and record.seq ~= nil and same_decimal(seq, record.seq)
  local refusal = check_preconditions(record, retry and '' or seq, if_match)
  if refusal then return refusal end

  -- Absent or already a tombstone: nothing to change, but remember a seq so
  -- that a late register carrying a smaller one is refused.
  if not is_registered(record) then
    if seq == '' then
      return encode({ ok = true, changed = false, agent = record or NULL })
    end
    local tomb = record or as_record({
      tenant = tenant, agent = agent, state = 'deregistered', version = 0,
      created_at = now,
    })
    tomb.seq = seq
    tomb.updated_at = now
    tomb.expires_at = now + tombstone_ms
    store_record(agents_key, field, tomb)
    redis.call('ZADD', tombs_key, int_text(tomb.expires_at), field)
    return encode({ ok = true, changed = false, agent = tomb })
  end

  local before = roster_identity(record)
  record.state = 'deregistered'
  record.version = record.version + 1
  record.updated_at = now
  record.expires_at = now + tombstone_ms
  if seq ~= '' then
    record.seq = seq
  end
  store_record(agents_key, field, record)
  redis.call('ZADD', tombs_key, int_text(record.expires_at), field)
  if before ~= '' then
    redis.call('INCR', rev_key)
  end
  append_event(events_key, maxlen, 'agent.deregistered', tenant, agent, record.version, now,
               { seq = record.seq or NULL })
  return encode({ ok = true, changed = true, agent = record })
end

------------------------------------------------------------------------------
-- presence_agent_get, presence_agent_list, presence_roster
------------------------------------------------------------------------------

local function presence_agent_get(keys, args)
  local bad = check_argc('presence_agent_get', args, 2)
  if bad then return bad end
  local tenant, agent = args[1], args[2]
  local record = load_record(keys[1], agent_field(tenant, agent))
  if not record then
    return refuse('not_found', string.format('agent %s/%s is not registered', tenant, agent),
                  { agent = NULL })
  end
  if record.state ~= 'registered' then
    return refuse('not_found',
                  string.format('agent %s/%s was deregistered', tenant, agent),
                  { agent = record })
  end
  return encode({ ok = true, agent = record })
end

-- HSCAN steps one presence_agent_list call may take; a call that runs out
-- answers with fewer agents and the cursor to go on from.
local LIST_STEPS = 64

-- KEYS: agents. ARGS: tenant, cursor, after, limit. Pages through the
-- tenant's registered agents of the partition with HSCAN: the scan goes on
-- from `cursor` ("0" to start); within one HSCAN step agents come in id order
-- and a page that ends inside a step gives that step's cursor again with the
-- last agent id returned as `after`, so the next page takes the same step's
-- agents after that id. Agents added or removed meanwhile cannot shift an
-- unchanged agent out of a page or into a second one. Answer:
-- {"ok":true,"agents":[REC...],"cursor":"N","after":"ID","done":bool}; pass
-- cursor and after back for the next page. HSCAN's guarantee holds across
-- steps: an agent registered during the whole listing is returned, perhaps
-- twice if the hash was resized meanwhile.
local function presence_agent_list(keys, args)
  local bad = check_argc('presence_agent_list', args, 4)
  if bad then return bad end
  local agents_key = keys[1]
  local tenant, cursor, after = args[1], args[2], args[3]
  local limit = parse_int(args[4])
  if not parse_int(cursor) or not limit or limit < 1 then
    return bad_argument('presence_agent_list', 'cursor and limit must be integers')
  end
  local prefix_length = #tenant + 1
  local pattern = tenant:gsub('[%*%?%[%]\\]', '\\%0') .. '/*'
  local agents = array()
  for _ = 1, LIST_STEPS do
    local step = redis.call('HSCAN', agents_key, cursor, 'MATCH', pattern, 'COUNT',
                            int_text(math.max(limit, 100)))
    local flat = step[2]
    local found, texts = {}, {}
    for i = 1, #flat, 2 do
      local agent = flat[i]:sub(prefix_length + 1)
      if agent > after then
        found[#found + 1] = agent
        texts[agent] = flat[i + 1]
      end
    end
    table.sort(found)
    for _, agent in ipairs(found) do
      if #agents >= limit then
        return encode({ ok = true, agents = agents, cursor = cursor,
                        after = agents[#agents].agent, done = false })
      end
      local record, problem = decode_record(tenant .. '/' .. agent, texts[agent], tenant, agent)
      if is_registered(record) then
        agents[#agents + 1] = record
      elseif problem then
        redis.log(redis.LOG_WARNING,
                  'presence_agent_list: skipped unreadable record ' .. tenant .. '/' .. agent)
      end
    end
    after = ''
    cursor = step[1]
    if cursor == '0' then
      return encode({ ok = true, agents = agents, cursor = '0', after = '', done = true })
    end
    if #agents >= limit then
      break
    end
  end
  return encode({ ok = true, agents = agents, cursor = cursor, after = '', done = false })
end
-- The roster row of one stored record, or nil when it is not a registered
-- Graph agent (or cannot be read). Works on the stored array: a roster read
-- passes over every record of the partition.
local function roster_row(field, text)
  local ok, v = pcall(unpack_array, text)
  if not ok or (STATES[v[AT_STATE]] or v[AT_STATE]) ~= 'registered'
      or (SOURCES[v[AT_SOURCE]] or v[AT_SOURCE]) ~= 'graph' then
    return nil
  end
  local tenant, agent = split_field(field)
  return array({ tenant, agent, bytes_to_guid(v[AT_GUID] or ''),
                 AVAILABILITIES[v[AT_AVAILABILITY]] or v[AT_AVAILABILITY] or UNKNOWN,
                 ACTIVITIES[v[AT_ACTIVITY]] or v[AT_ACTIVITY] or UNKNOWN })
end

-- KEYS: agents, rev. ARGS: none (the whole roster at once, for callers of
-- library versions before 10) or cursor ("0" to start) and count: one HSCAN
-- step, so that no single call holds Redis for the time of a whole
-- partition. Answer: {"ok":true,"rev":N,"cursor":"C","agents":[[tenant,
-- agent,graph_user_id,availability,activity],...]}, cursor "0" once the scan
-- is complete. An agent may come twice across pages (HSCAN); one registered
-- during the scan may be missed, but it moved rev, so a reader that compares
-- the rev of its first page with the next read reads again.
local function presence_roster(keys, args)
  if #args ~= 0 and #args ~= 2 then
    return bad_argument('presence_roster',
                        string.format('expected 0 or 2 arguments, got %d', #args))
  end
  local agents_key, rev_key = keys[1], keys[2]
  if not codes then make_tables() end
  local flat, cursor
  if #args == 0 then
    flat, cursor = redis.call('HGETALL', agents_key), '0'
  else
    local count = parse_int(args[2])
    if not parse_int(args[1]) or not count or count < 1 then
      return bad_argument('presence_roster', 'cursor and count must be integers')
    end
    local step = redis.call('HSCAN', agents_key, args[1], 'COUNT', int_text(count))
    flat, cursor = step[2], step[1]
  end
  local rows = array()
  for i = 1, #flat, 2 do
    local row = roster_row(flat[i], flat[i + 1])
    if row then rows[#rows + 1] = row end
  end
  if #args == 0 then
    -- The whole roster comes sorted, as before library 10. Pages are not:
    -- the caller merges them and sorts once.
    table.sort(rows, function(a, b)
      return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
    end)
  end
  local rev = tonumber(redis.call('GET', rev_key) or '0')
  return encode({ ok = true, rev = rev, cursor = cursor, agents = rows })
end

-- KEYS: agents. ARGS: cursor ("0" to start), count. One HSCAN step over
-- the partition's records, decoded: {"ok":true,"cursor":"N","records":
-- [{"field":"T/A","agent":REC} or {"field":"T/A","unreadable":true}]};
-- cursor "0" when the scan is complete. For presencectl rebuild, which must
-- not depend on how records are stored.
local function presence_records(keys, args)
  local bad = check_argc('presence_records', args, 2)
  if bad then return bad end
  local count = parse_int(args[2])
  if not parse_int(args[1]) or not count or count < 1 then
    return bad_argument('presence_records', 'cursor and count must be integers')
  end
  local step = redis.call('HSCAN', keys[1], args[1], 'COUNT', int_text(count))
  local records = array()
  local flat = step[2]
  for i = 1, #flat, 2 do
    local record = decode_record(flat[i], flat[i + 1])
    if record then
      records[#records + 1] = { field = flat[i], agent = record }
    else
      records[#records + 1] = { field = flat[i], unreadable = true }
    end
  end
  return encode({ ok = true, cursor = step[1], records = records })
end

------------------------------------------------------------------------------
-- presence_apply
------------------------------------------------------------------------------

-- The lease hash fields, or nil when the lease is not held by token at epoch
-- and unexpired.
local function held_lease(lease_key, token, epoch, now)
  local lease = redis.call('HMGET', lease_key, 'token', 'epoch', 'expires_at', 'instance')
  if not lease[1] or lease[1] == '' or lease[1] ~= token then
    return nil
  end
  if not lease[2] or not same_decimal(lease[2], epoch) then
    return nil
  end
  if (tonumber(lease[3]) or 0) <= now then
    return nil
  end
  return { token = lease[1], epoch = lease[2], expires_at = lease[3], instance = lease[4] or '' }
end

-- Applies one observation; returns the outcome and the stored array. Works
-- on the array as stored, without a record table: the path of every change.
local CHANGE_DATA = '{"before":{"availability":%s,"activity":%s},"after":{"availability":%s,'
    .. '"activity":%s},"source":%s,"observed_at":%d}'

-- A presence value or source as a JSON string; the values of the code tables
-- are quoted once and remembered.
local quoted_values = {}
local function quoted(s)
  local q = quoted_values[s]
  if q then
    return q
  end
  q = encode_string(s)
  if codes[AVAILABILITIES][s] or codes[ACTIVITIES][s] or codes[SOURCES][s] then
    quoted_values[s] = q
  end
  return q
end

local function apply_item(agents_key, events_key, source, item, now, now_text)
  local field = agent_field(item.tenant, item.agent)
  local v, problem = try_load_array(agents_key, field)
  if problem then
    return 'unreadable', nil
  end
  if not v or (STATES[v[AT_STATE]] or v[AT_STATE]) ~= 'registered' then
    return 'missing', v
  end
  if (SOURCES[v[AT_SOURCE]] or v[AT_SOURCE]) ~= source then
    return 'wrong_source', v
  end
  -- An observation stamped ahead of Redis time (a caller's clock running
  -- fast) counts as made now: stored as it came, it would make every later
  -- observation with a correct clock stale until that moment.
  local observed_at = item.observed_at
  if observed_at > now then
    observed_at = now
  end
  if source == 'push' and observed_at < v[AT_OBSERVED_AT] then
    return 'stale_observation', v
  end
  local availability = AVAILABILITIES[v[AT_AVAILABILITY]] or v[AT_AVAILABILITY]
  local activity = ACTIVITIES[v[AT_ACTIVITY]] or v[AT_ACTIVITY]
  if availability == item.availability and activity == item.activity then
    return 'unchanged', v
  end

  v[AT_AVAILABILITY] = codes[AVAILABILITIES][item.availability] or item.availability
  v[AT_ACTIVITY] = codes[ACTIVITIES][item.activity] or item.activity
  v[AT_PRESENCE_AT] = now
  v[AT_OBSERVED_AT] = observed_at
  v[AT_PRESENCE_SOURCE] = codes[SOURCES][source] or source
  v[AT_VERSION] = v[AT_VERSION] + 1
  v[AT_UPDATED_AT] = now
  redis.call('HSET', agents_key, field, cmsgpack.pack(v))
  -- Written out, not through append_event: this is the path of every change.
  -- presence_apply trims the stream once after all its items.
  redis.call('XADD', events_key, '*', 'type', 'presence.changed', 'tenant', item.tenant,
             'agent', item.agent, 'version', int_text(v[AT_VERSION]), 'at', now_text, 'data',
             string.format(CHANGE_DATA, quoted(availability), quoted(activity),
                           quoted(item.availability), quoted(item.activity), quoted(source),
                           observed_at))
  return 'changed', v
end
local function presence_apply(keys, args)
  if #args < 5 or (#args - 5) % 5 ~= 0 then
    return bad_argument('presence_apply',
                        string.format('expected 5 arguments and 5 per item, got %d', #args))
  end
  local agents_key, events_key, lease_key, job_key = keys[1], keys[2], keys[3], keys[4]
  local token, epoch, maxlen, source, polled = unpack(args, 1, 5)
  if not codes then make_tables() end
  maxlen = checked_maxlen(maxlen)
  if not maxlen then
    return bad_argument('presence_apply', 'maxlen must be a non-negative integer')
  end
  local now = now_ms()
  local now_text = int_text(now)

  -- Fencing comes first: a stale owner writes nothing at all.
  local lease
  if epoch ~= '' then
    lease = held_lease(lease_key, token, epoch, now)
    if not lease then
      return refuse('stale_epoch',
                    string.format('lease %s is not held by this token at epoch %s', lease_key,
                                  epoch))
    end
  end

  -- Parse every item before writing anything.
  local items = {}
  for i = 6, #args, 5 do
    local observed = args[i + 4]
    local observed_at = observed == '' and now or parse_int(observed)
    if not observed_at then
      return bad_argument('presence_apply', 'observed_at must be a non-negative integer')
    end
    items[#items + 1] = { tenant = args[i], agent = args[i + 1], availability = args[i + 2],
                          activity = args[i + 3], observed_at = observed_at }
  end

  local counts = { changed = 0, unchanged = 0, missing = 0, wrong_source = 0,
                   stale_observation = 0, unreadable = 0 }
  local results = array()
  for _, item in ipairs(items) do
    local outcome, stored = apply_item(agents_key, events_key, source, item, now, now_text)
    counts[outcome] = counts[outcome] + 1
    if #items == 1 then
      local record = stored and array_to_record(stored, item.tenant, item.agent) or NULL
      results[1] = { tenant = item.tenant, agent = item.agent, outcome = outcome,
                     record = record }
    else
      -- Written out by hand: a batch of hundreds of items is the hot path.
      results[#results + 1] = raw('{"tenant":' .. encode_string(item.tenant) .. ',"agent":'
                                  .. encode_string(item.agent) .. ',"outcome":"' .. outcome
                                  .. '"}')
    end
  end

  -- One trim for the whole call, not one per change: each costs an XLEN.
  -- It may remove as many entries as the call added, so the stream stays
  -- near maxlen however large the calls.
  if counts.changed > 0 and maxlen ~= '0' then
    trim_events(events_key, maxlen, math.max(TRIM_MOST, counts.changed))
  end

  if lease then
    redis.call('HSET', job_key, 'last_poll_at', now_text,
               'last_poll_agents', polled ~= '' and polled or int_text(#items),
               'instance', lease.instance, 'epoch', lease.epoch)
  end
  return encode({ ok = true, changed = counts.changed, unchanged = counts.unchanged,
                  missing = counts.missing, wrong_source = counts.wrong_source,
                  stale_observation = counts.stale_observation, unreadable = counts.unreadable,
                  results = results })
end

-- One pushed presence (the REST API's PUT .../presence) with an optional
-- If-Match. KEYS as presence_apply; ARGV: if_match, maxlen, tenant, agent,
-- availability, activity, observed_at. Answers as presence_apply, or
-- version_mismatch with the current record.
local function presence_push(keys, args)
  local bad = check_argc('presence_push', args, 7)
  if bad then return bad end
  local if_match, maxlen, tenant, agent, availability, activity, observed_at = unpack(args, 1, 7)
  if if_match ~= '' then
    local record = load_record(keys[1], agent_field(tenant, agent))
    local current = is_registered(record) and record.version or 0
    if not same_decimal(if_match, int_text(current)) then
      return refuse('version_mismatch',
                    string.format('if_match %s does not match version %d', if_match, current),
                    { agent = record or NULL })
    end
  end
  return presence_apply(keys, { '', '', maxlen, 'push', '', tenant, agent, availability, activity,
                                observed_at })
end

------------------------------------------------------------------------------
-- presence_sweep
------------------------------------------------------------------------------

local function presence_sweep(keys, args)
  local bad = check_argc('presence_sweep', args, 1)
  if bad then return bad end
  local agents_key, tombs_key = keys[1], keys[2]
  local limit = parse_int(args[1])
  if not limit then
    return bad_argument('presence_sweep', 'limit must be a non-negative integer')
  end
  local now = now_ms()

  local fields = redis.call('ZRANGEBYSCORE', tombs_key, '-inf', int_text(now), 'LIMIT', '0',
                                int_text(limit))
  local removed = 0
  for _, field in ipairs(fields) do
    -- Re-check the record: it may have been registered again since.
    local record = try_load_record(agents_key, field)
    if record and record.state == 'deregistered' and (record.expires_at or 0) <= now then
      redis.call('HDEL', agents_key, field)
      removed = removed + 1
    end
    redis.call('ZREM', tombs_key, field)
  end
  return encode({ ok = true, removed = removed })
end

------------------------------------------------------------------------------
-- Leases: presence_lease_acquire, _renew, _release
--
-- A lease hash holds token, instance, epoch, expires_at, acquired_at. It never
-- expires as a key: the epoch must only ever grow.
------------------------------------------------------------------------------

local function read_lease(lease_key)
  local v = redis.call('HMGET', lease_key, 'token', 'instance', 'epoch', 'expires_at')
  return { token = v[1] or '', instance = v[2] or '', epoch = tonumber(v[3] or '0') or 0,
           expires_at = tonumber(v[4] or '0') or 0 }
end

local function presence_lease_acquire(keys, args)
  local bad = check_argc('presence_lease_acquire', args, 3)
  if bad then return bad end
  local lease_key = keys[1]
  local token, instance, ttl_ms = args[1], args[2], parse_int(args[3])
  if not ttl_ms or ttl_ms < 1 or token == '' then
    return bad_argument('presence_lease_acquire', 'needs a token and a positive ttl_ms')
  end
  local now = now_ms()
  local lease = read_lease(lease_key)
  local alive = lease.token ~= '' and lease.expires_at > now

  if alive and lease.token ~= token then
    return refuse('held', string.format('lease %s is held by %s at epoch %d', lease_key,
                                        lease.instance, lease.epoch),
                  { instance = lease.instance, epoch = lease.epoch,
                    expires_at = lease.expires_at, now = now })
  end

  local expires_at = now + ttl_ms
  local epoch = lease.epoch
  if alive then
    -- The holder asks again: a renewal.
    redis.call('HSET', lease_key, 'expires_at', int_text(expires_at), 'instance', instance)
  else
    epoch = epoch + 1
    redis.call('HSET', lease_key, 'token', token, 'instance', instance, 'epoch', int_text(epoch),
               'expires_at', int_text(expires_at), 'acquired_at', int_text(now))
  end
  return encode({ ok = true, epoch = epoch, expires_at = expires_at, now = now,
                  renewed = alive })
end

local function presence_lease_renew(keys, args)
  local bad = check_argc('presence_lease_renew', args, 3)
  if bad then return bad end
  local lease_key = keys[1]
  local token, epoch, ttl_ms = args[1], args[2], parse_int(args[3])
  if not ttl_ms or ttl_ms < 1 then
    return bad_argument('presence_lease_renew', 'ttl_ms must be a positive integer')
  end
  local now = now_ms()

  if not held_lease(lease_key, token, epoch, now) then
    local lease = read_lease(lease_key)
    return refuse('lost', string.format('lease %s is no longer held by this token at epoch %s',
                                        lease_key, epoch),
                  { instance = lease.instance, epoch = lease.epoch,
                    expires_at = lease.expires_at, now = now })
  end
  local expires_at = now + ttl_ms
  redis.call('HSET', lease_key, 'expires_at', int_text(expires_at))
  return encode({ ok = true, epoch = tonumber(epoch), expires_at = expires_at, now = now })
end

local function presence_lease_release(keys, args)
  local bad = check_argc('presence_lease_release', args, 2)
  if bad then return bad end
  local lease_key = keys[1]
  local token, epoch = args[1], args[2]
  local lease = read_lease(lease_key)

  -- Only the holder at this epoch may let go; the epoch stays for the next grant.
  if token == '' or lease.token ~= token or not same_decimal(epoch, int_text(lease.epoch)) then
    return encode({ ok = true, released = false })
  end
  redis.call('HSET', lease_key, 'token', '', 'expires_at', '0')
  return encode({ ok = true, released = true })
end

------------------------------------------------------------------------------
-- Members: presence_member_heartbeat, _leave, presence_members
------------------------------------------------------------------------------

-- The member hash key of an instance id, derived from the members zset key
-- "presence:{ctl}:members" -> "presence:{ctl}:member:ID". The derived key is
-- not declared in KEYS but has the same hash tag {ctl}, so it lives in the
-- same Redis Cluster slot; presence_members and presence_assignment_write
-- rely on this.
local function member_key(members_key, id)
  return (members_key:gsub(':members$', ':member:')) .. id
end

local function presence_member_heartbeat(keys, args)
  if #args ~= 5 and #args ~= 6 then
    return bad_argument('presence_member_heartbeat',
                        string.format('expected 5 or 6 arguments, got %d', #args))
  end
  local members_key, hash_key = keys[1], keys[2]
  local id, token, ttl_ms, addr, owned, draining =
      args[1], args[2], parse_int(args[3]), args[4], args[5], args[6]
  if not ttl_ms or ttl_ms < 1 or token == '' then
    return bad_argument('presence_member_heartbeat', 'needs a token and a positive ttl_ms')
  end
  local now = now_ms()

  -- Another incarnation still alive under this id keeps it.
  local current = redis.call('HMGET', hash_key, 'token', 'started_at')
  local expiry = tonumber(redis.call('ZSCORE', members_key, id) or '0')
  if current[1] and current[1] ~= token and expiry > now then
    return refuse('id_in_use',
                  string.format('instance id %s is in use by another live instance until %d',
                                id, expiry),
                  { expires_at = expiry, now = now })
  end

  local started_at = current[1] == token and tonumber(current[2]) or now
  local expires_at = now + ttl_ms
  redis.call('HSET', hash_key, 'id', id, 'token', token, 'addr', addr,
             'started_at', int_text(started_at), 'heartbeat_at', int_text(now),
             'expires_at', int_text(expires_at), 'owned', owned,
             'draining', (draining == '1' or draining == 'true') and '1' or '0')
  redis.call('ZADD', members_key, int_text(expires_at), id)
  return encode({ ok = true, now = now, expires_at = expires_at, started_at = started_at })
end

local function presence_member_leave(keys, args)
  local bad = check_argc('presence_member_leave', args, 2)
  if bad then return bad end
  local members_key, hash_key = keys[1], keys[2]
  local id, token = args[1], args[2]

  local current = redis.call('HGET', hash_key, 'token')
  if current and current ~= token then
    return encode({ ok = true, left = false })
  end
  redis.call('ZREM', members_key, id)
  redis.call('DEL', hash_key)
  return encode({ ok = true, left = true })
end

-- One member as JSON: the hash fields (times as numbers, draining as a bool)
-- and whether its heartbeat is still alive.
local function member_entry(members_key, id, expiry, now)
  local flat = redis.call('HGETALL', member_key(members_key, id))
  local entry = { id = id, expires_at = expiry }
  for i = 1, #flat, 2 do
    entry[flat[i]] = flat[i + 1]
  end
  for _, name in ipairs({ 'started_at', 'heartbeat_at', 'expires_at' }) do
    entry[name] = tonumber(entry[name] or '0') or 0
  end
  entry.draining = entry.draining == '1'
  entry.alive = entry.expires_at > now
  return entry
end

-- The operator's control keys next to the members zset (same tag {ctl}):
-- "presence:{ctl}:members" -> "presence:{ctl}:draining", ":rebalance".
local function control_key(members_key, name)
  return (members_key:gsub(':members$', ':' .. name))
end

-- The rebalance request the leader has not acknowledged yet, or nil.
local function pending_rebalance(rebalance_key)
  local request = redis.call('HMGET', rebalance_key, 'request', 'done')
  if request[1] and request[1] ~= '' and request[1] ~= request[2] then
    return request[1]
  end
  return nil
end

local function presence_members(keys, args)
  local members_key = keys[1]
  local now = now_ms()
  local flat = redis.call('ZRANGE', members_key, 0, -1, 'WITHSCORES')
  local ids, expiry = {}, {}
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    expiry[flat[i]] = tonumber(flat[i + 1])
  end
  table.sort(ids)

  -- An instance drained by the operator counts as draining whatever its own
  -- heartbeat says; "drain_requested" tells the two apart.
  local draining_key = control_key(members_key, 'draining')
  local members = array()
  for i, id in ipairs(ids) do
    local entry = member_entry(members_key, id, expiry[id], now)
    entry.drain_requested = redis.call('SISMEMBER', draining_key, id) == 1
    entry.draining = entry.draining or entry.drain_requested
    members[i] = entry
  end
  local answer = { ok = true, now = now, members = members }
  answer.rebalance_request = pending_rebalance(control_key(members_key, 'rebalance'))
  return encode(answer)
end

------------------------------------------------------------------------------
-- Operator requests: presence_drain, presence_rebalance_request, _ack
------------------------------------------------------------------------------

-- KEYS: draining set. ARGS: instance id, "1" to drain or "0" to undrain.
local function presence_drain(keys, args)
  local bad = check_argc('presence_drain', args, 2)
  if bad then return bad end
  local id, on = args[1], args[2]
  if id == '' or (on ~= '1' and on ~= '0') then
    return bad_argument('presence_drain', 'needs an instance id and 1 or 0')
  end
  local changed
  if on == '1' then
    changed = redis.call('SADD', keys[1], id) == 1
  else
    changed = redis.call('SREM', keys[1], id) == 1
  end
  return encode({ ok = true, changed = changed,
                  draining = array(redis.call('SMEMBERS', keys[1])) })
end

-- KEYS: rebalance hash. ARGS: a request id. The leader sees it through
-- presence_members on its next tick.
local function presence_rebalance_request(keys, args)
  local bad = check_argc('presence_rebalance_request', args, 1)
  if bad then return bad end
  if args[1] == '' then
    return bad_argument('presence_rebalance_request', 'needs a request id')
  end
  local now = now_ms()
  redis.call('HSET', keys[1], 'request', args[1], 'requested_at', int_text(now))
  return encode({ ok = true, request = args[1], requested_at = now })
end

-- KEYS: rebalance hash, leader lease. ARGS: token, epoch, request id,
-- generation written for it. Fenced by the leader lease like the assignment.
local function presence_rebalance_ack(keys, args)
  local bad = check_argc('presence_rebalance_ack', args, 4)
  if bad then return bad end
  local rebalance_key, leader_key = keys[1], keys[2]
  local token, epoch, request, generation = args[1], args[2], args[3], args[4]
  local now = now_ms()
  if not held_lease(leader_key, token, epoch, now) then
    return refuse('stale_epoch', string.format(
        'leader lease %s is not held by this token at epoch %s', leader_key, epoch))
  end
  if redis.call('HGET', rebalance_key, 'request') ~= request then
    return encode({ ok = true, acknowledged = false })
  end
  redis.call('HSET', rebalance_key, 'done', request, 'generation', generation,
             'done_at', int_text(now), 'leader_epoch', epoch)
  return encode({ ok = true, acknowledged = true })
end

------------------------------------------------------------------------------
-- presence_assignment_write
------------------------------------------------------------------------------

local function presence_assignment_write(keys, args)
  if #args < 3 or (#args - 3) % 2 ~= 0 then
    return bad_argument('presence_assignment_write',
                        string.format('expected 3 arguments and pairs, got %d', #args))
  end
  local assignment_key, leader_key, members_key = keys[1], keys[2], keys[3]
  local token, epoch, members_csv = args[1], args[2], args[3]
  local now = now_ms()

  if not held_lease(leader_key, token, epoch, now) then
    return refuse('stale_epoch', string.format(
        'leader lease %s is not held by this token at epoch %s', leader_key, epoch))
  end

  -- The whole assignment is replaced.
  local generation = tonumber(redis.call('HGET', assignment_key, 'generation') or '0') + 1
  local fields = { 'generation', int_text(generation), 'members', members_csv,
                   'updated_at', int_text(now) }
  for i = 4, #args, 2 do
    local partition = args[i]
    if partition:sub(1, 1) ~= 'p' then
      partition = 'p' .. partition
    end
    fields[#fields + 1] = partition
    fields[#fields + 1] = args[i + 1]
  end
  redis.call('DEL', assignment_key)
  redis.call('HSET', assignment_key, unpack(fields))

  -- Dead members leave the zset and lose their hash (same slot {ctl}).
  local dead = redis.call('ZRANGEBYSCORE', members_key, '-inf', int_text(now))
  for _, id in ipairs(dead) do
    redis.call('ZREM', members_key, id)
    redis.call('DEL', member_key(members_key, id))
  end
  return encode({ ok = true, generation = generation, pruned = #dead })
end

------------------------------------------------------------------------------
-- presence_graph_budget
------------------------------------------------------------------------------

-- A fixed window shared by every instance: cost requests fit while the
-- window's count stays within limit.
local function presence_graph_budget(keys, args)
  local bad = check_argc('presence_graph_budget', args, 3)
  if bad then return bad end
  local budget_key = keys[1]
  local limit, window_ms, cost = parse_int(args[1]), parse_int(args[2]), parse_int(args[3])
  if not limit or not window_ms or window_ms < 1 or not cost then
    return bad_argument('presence_graph_budget', 'limit, window_ms and cost must be integers')
  end
  if cost > limit then
    return bad_argument('presence_graph_budget',
                        string.format('cost %d can never fit the limit %d', cost, limit))
  end

  local used = tonumber(redis.call('GET', budget_key) or '0')
  if used + cost > limit then
    local wait_ms = redis.call('PTTL', budget_key)
    if wait_ms < 0 then
      wait_ms = window_ms
    end
    return refuse('throttled',
                  string.format('graph budget %s: %d of %d used, wait %d ms', budget_key, used,
                                limit, wait_ms),
                  { wait_ms = wait_ms })
  end
  used = redis.call('INCRBY', budget_key, cost)
  if redis.call('PTTL', budget_key) < 0 then
    redis.call('PEXPIRE', budget_key, int_text(window_ms))
  end
  return encode({ ok = true, used = used, remaining = limit - used })
end

------------------------------------------------------------------------------
-- presence_once: idempotency keys (DESIGN.md invariant 4)
------------------------------------------------------------------------------

-- The commands a stored outcome may stand for.
local ONCE_COMMANDS = {
  presence_agent_put = presence_agent_put,
  presence_agent_delete = presence_agent_delete,
  presence_apply = presence_apply,
  presence_push = presence_push,
}

-- KEYS: the idempotency key, then the command's own keys.
-- ARGV: the command's name, the request's fingerprint, the retention in ms,
-- then the command's own arguments.
-- The first answer is stored with the fingerprint, in this same call, so no
-- later request can observe the command half applied; a request with the
-- same key and fingerprint gets that answer again, marked "replayed", and a
-- different request with the same key is refused.
local function presence_once(keys, args)
  if #keys < 1 or #args < 3 then
    return bad_argument('presence_once', 'needs a key, a command, a fingerprint and a retention')
  end
  local command = ONCE_COMMANDS[args[1]]
  local retention = parse_int(args[3])
  if not command or args[2] == '' or not retention or retention <= 0 then
    return bad_argument('presence_once', 'unknown command, empty fingerprint or bad retention')
  end

  local stored = redis.call('GET', keys[1])
  if stored then
    local newline = string.find(stored, '\n', 1, true)
    if not newline or string.sub(stored, 1, newline - 1) ~= args[2] then
      return refuse('idempotency_key_reused',
                    'this Idempotency-Key was first used with a different request')
    end
    return '{"replayed":true,' .. string.sub(stored, newline + 2)
  end

  local inner_keys, inner_args = {}, {}
  for i = 2, #keys do inner_keys[#inner_keys + 1] = keys[i] end
  for i = 4, #args do inner_args[#inner_args + 1] = args[i] end
  local answer = command(inner_keys, inner_args)
  if not string.find(answer, '"code":"bad_argument"', 1, true) then
    redis.call('SET', keys[1], args[2] .. '\n' .. answer, 'PX', int_text(retention))
  end
  return answer
end

------------------------------------------------------------------------------
-- presence_repair: presencectl rebuild --repair
------------------------------------------------------------------------------

-- KEYS: agents, tombs, rev (one partition).
-- ARGS: tenant, agent, the record recomputed from the events as JSON, or ""
-- to remove an agent the events do not know.
-- Writes the record as it is (no event: the events already say it), and
-- makes the tombstone set and rev agree with it.
local function presence_repair(keys, args)
  local bad = check_argc('presence_repair', args, 3)
  if bad then return bad end
  local agents_key, tombs_key, rev_key = keys[1], keys[2], keys[3]
  local tenant, agent, text = args[1], args[2], args[3]
  local field = agent_field(tenant, agent)
  local before = try_load_record(agents_key, field)

  local record = nil
  if text ~= '' then
    local ok, decoded = pcall(cjson.decode, text)
    if not ok or type(decoded) ~= 'table' or decoded.tenant ~= tenant
        or decoded.agent ~= agent or type(decoded.version) ~= 'number'
        or (decoded.state ~= 'registered' and decoded.state ~= 'deregistered') then
      return bad_argument('presence_repair', 'record is not an agent record of ' .. field)
    end
    record = as_record(decoded)
  end

  if record == nil then
    redis.call('HDEL', agents_key, field)
    redis.call('ZREM', tombs_key, field)
  else
    store_record(agents_key, field, record)
    if is_registered(record) then
      redis.call('ZREM', tombs_key, field)
    else
      redis.call('ZADD', tombs_key, int_text(record.expires_at or 0), field)
    end
  end
  if roster_identity(record) ~= roster_identity(before) then
    redis.call('INCR', rev_key)
  end
  return encode({ ok = true, agent = record or NULL, before = before or NULL })
end

------------------------------------------------------------------------------
-- Registration
------------------------------------------------------------------------------

-- Runs a Function, turning a refusal raised with error({ refusal = TEXT })
-- (an unreadable record) into its answer. Other errors stay errors.
local function guarded(callback)
  return function(keys, args)
    local ok, answer = pcall(callback, keys, args)
    if ok then
      return answer
    end
    if type(answer) == 'table' and answer.refusal then
      return answer.refusal
    end
    error(answer, 0)
  end
end

local function register(name, callback, read_only)
  local spec = { function_name = name, callback = guarded(callback) }
  if read_only then
    spec.flags = { 'no-writes' }
  end
  redis.register_function(spec)
end

register('presence_version', presence_version, true)
register('presence_init', presence_init)
register('presence_agent_put', presence_agent_put)
register('presence_agent_delete', presence_agent_delete)
register('presence_agent_get', presence_agent_get, true)
register('presence_agent_list', presence_agent_list, true)
register('presence_roster', presence_roster, true)
register('presence_records', presence_records, true)
register('presence_apply', presence_apply)
register('presence_push', presence_push)
register('presence_sweep', presence_sweep)
register('presence_lease_acquire', presence_lease_acquire)
register('presence_lease_renew', presence_lease_renew)
register('presence_lease_release', presence_lease_release)
register('presence_member_heartbeat', presence_member_heartbeat)
register('presence_member_leave', presence_member_leave)
register('presence_members', presence_members, true)
register('presence_assignment_write', presence_assignment_write)
register('presence_graph_budget', presence_graph_budget)
register('presence_once', presence_once)
register('presence_drain', presence_drain)
register('presence_rebalance_request', presence_rebalance_request)
register('presence_rebalance_ack', presence_rebalance_ack)
register('presence_repair', presence_repair)
