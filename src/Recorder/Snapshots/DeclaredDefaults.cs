using System.Text.Json.Nodes;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// Completes the device state of a snapshot written before some member existed with that
/// member's declared default, taken from a template: every member as a state's constructor sets
/// it. The generated serializer cannot do this itself: it gives a member the JSON lacks
/// default(T), not the initializer's value (dotnet/runtime#84484: a PIT channel's Gate would read
/// false); the reflection-based one, which could, does not exist in the native build.
/// </summary>
internal static class DeclaredDefaults
{
    /// <summary>
    /// Adds to each device's state in <paramref name="machine"/> (a snapshot's device part) and to
    /// its counters each member of <paramref name="template"/> they lack, at every depth. A device
    /// itself is never added: the board requires every one, and a snapshot without one is refused.
    /// </summary>
    public static void Fill(JsonNode machine, JsonNode template)
    {
        if (machine["Platform"] is JsonObject board && template["Platform"] is JsonObject boardTemplate)
            foreach (var (device, state) in board)
                if (state is not null && boardTemplate[device] is { } deviceTemplate) FillMembers(state, deviceTemplate);
        if (machine["Counters"] is { } counters && template["Counters"] is { } countersTemplate) FillMembers(counters, countersTemplate);
    }

    // Members the template does not know are left as they are; an array's objects are completed
    // from the template array's first object.
    private static void FillMembers(JsonNode state, JsonNode template)
    {
        switch (state, template)
        {
            case (JsonObject o, JsonObject t):
                foreach (var (name, value) in t)
                {
                    if (!o.TryGetPropertyValue(name, out var present)) o[name] = value?.DeepClone();
                    else if (present is not null && value is not null) FillMembers(present, value);
                }
                break;
            case (JsonArray a, JsonArray t) when t.Count > 0 && t[0] is JsonObject element:
                foreach (var item in a)
                    if (item is JsonObject) FillMembers(item, element);
                break;
        }
    }
}
