using System.Text.Json;
using System.Text.Json.Serialization;

namespace DropBoard.Shared.Contracts;

/// <summary>
/// Source-generated JSON for what travels over the agent hub, in the hub's own web defaults (camelCase): no reflection,
/// so the agent publishes as Native AOT. Insert it into a SignalR client's payload options or pass its type infos.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AgentHello))]
[JsonSerializable(typeof(AgentBatch))]
[JsonSerializable(typeof(BatchAck))]
[JsonSerializable(typeof(byte[]))]
public sealed partial class ContractsJson : JsonSerializerContext;
