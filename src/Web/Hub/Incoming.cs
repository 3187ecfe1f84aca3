using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Hub;

/// <summary>
/// A hub argument read straight into <typeparamref name="T"/> as SignalR parses the message, in one pass, or why it is
/// not one: the hub answers a malformed batch with what is wrong with it instead of SignalR's generic binding error,
/// without parsing every batch twice (into a document, then into the contract).
/// </summary>
public sealed record Incoming<T>(T? Value, string? Problem) where T : class;

/// <summary>Reads <see cref="Incoming{T}"/> with the contracts' source-generated metadata; registered on the hub protocol.</summary>
public sealed class IncomingConverter<T> : JsonConverter<Incoming<T>> where T : class
{
    private static readonly JsonTypeInfo<T> Contract = (JsonTypeInfo<T>)ContractsJson.Default.GetTypeInfo(typeof(T))!;

    public override Incoming<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // On a copy: a value that is not a T is skipped whole from where it began, and the next argument still reads.
        var attempt = reader;
        try
        {
            var value = JsonSerializer.Deserialize(ref attempt, Contract);
            reader = attempt;
            return new(value, null);
        }
        catch (JsonException e)
        {
            reader.Skip();
            return new(null, e.Message);
        }
    }

    public override void Write(Utf8JsonWriter writer, Incoming<T> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Value!, Contract);
}
