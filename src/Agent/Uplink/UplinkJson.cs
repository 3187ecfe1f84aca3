using System.Text.Json;
using System.Text.Json.Serialization;

namespace DropBoard.Agent.Uplink;

/// <summary><c>POST /api/sessions</c>: a session recording this host.</summary>
public sealed record SessionRequest(string Name, string[] Hosts);

/// <summary>The dashboard's answer to <see cref="SessionRequest"/>.</summary>
public sealed record SessionCreated(long Id);

/// <summary>Source-generated JSON for the session API calls (Native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SessionRequest))]
[JsonSerializable(typeof(SessionCreated))]
internal sealed partial class UplinkJson : JsonSerializerContext;
