using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using VmReplay.Recorder;
using VmReplay.Replayer;

namespace VmReplay.Cli.Commands;

/// <summary><c>vmreplay diff</c>: for CI. Exit 0 identical, 1 different, 2 not comparable, 3 error.</summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var a = new Argument<string>("a") { Description = "first trace" };
        var b = new Argument<string>("b") { Description = "second trace" };
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var command = new Command("diff", "compare two recordings of the same guest: the first differing event, the serial output difference and a summary");
        command.Arguments.Add(a);
        command.Arguments.Add(b);
        command.Options.Add(json);
        command.SetAction(r => Program.Guarded(() => Diff(r.GetValue(a)!, r.GetValue(b)!, r.GetValue(json))));
        return command;
    }

    private static int Diff(string pathA, string pathB, bool asJson)
    {
        using var a = TraceReader.Open(pathA);
        using var b = TraceReader.Open(pathB);
        var c = TraceComparison.Compare(a, b);
        int status = c.NotComparable is not null ? 2 : c.Identical ? 0 : 1;
        if (asJson)
        {
            var context = new JsonArray();
            foreach (var (index, x, y) in c.ContextBefore) context.Add((JsonNode)new JsonObject { ["index"] = index, ["a"] = x, ["b"] = y });
            var headerDifferences = new JsonArray();
            foreach (var line in c.HeaderDifferences) headerDifferences.Add((JsonNode?)line);
            Console.WriteLine(new JsonObject
            {
                ["a"] = pathA, ["b"] = pathB, ["result"] = status switch { 0 => "identical", 1 => "different", _ => "not comparable" },
                ["notComparable"] = c.NotComparable, ["headerDifferences"] = headerDifferences,
                ["firstDifference"] = c.FirstDifference, ["instructionsBeforeDifference"] = c.InstructionsBeforeDifference, ["kind"] = c.Cause?.Label,
                ["cause"] = c.Cause?.Summary, ["eventA"] = c.DifferenceA, ["eventB"] = c.DifferenceB,
                ["context"] = context,
                ["eventsA"] = c.EventsA, ["eventsB"] = c.EventsB, ["serialA"] = c.SerialA, ["serialB"] = c.SerialB, ["serialDifferenceAt"] = c.SerialDifference,
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return status;
        }
        if (c.NotComparable is not null)
        {
            Console.WriteLine($"not comparable: {c.NotComparable}");
            return status;
        }
        // Before the events: a differing command line or CPU model explains a guest that behaves differently.
        foreach (var line in c.HeaderDifferences) Console.WriteLine(line);
        if (c.Identical)
        {
            // A virtual clock records no readings: the runs are equal at every instruction count.
            bool virtualClocks = a.Header.Clock == "virtual" && b.Header.Clock == "virtual";
            Console.WriteLine(virtualClocks
                ? $"identical: {c.EventsA} events (virtual clock: every exit at the same instruction count)"
                : $"identical: {c.EventsA} events (clock values are host timing and not compared)");
            return status;
        }
        string after = c.InstructionsBeforeDifference is { } n ? $" (after instruction {n})" : "";
        Console.WriteLine($"first difference at event {c.FirstDifference}{after}:");
        foreach (var (i, x, _) in c.ContextBefore) Console.WriteLine($"    {i}: {x}");
        Console.WriteLine($"  A {c.FirstDifference}: {c.DifferenceA}");
        Console.WriteLine($"  B {c.FirstDifference}: {c.DifferenceB}");
        // One line a CI user can act on: host timing and input differences are expected between
        // two recordings, a guest behaving differently on equal inputs is not.
        if (c.Cause is { } cause) Console.WriteLine($"kind: {cause}");
        if (c.SerialDifference is { } at)
        {
            Console.WriteLine($"serial output differs at byte {at}:");
            Console.WriteLine($"  A: {Excerpt(c.SerialA, at)}");
            Console.WriteLine($"  B: {Excerpt(c.SerialB, at)}");
        }
        else Console.WriteLine("serial output identical");
        Console.WriteLine($"summary: A {c.EventsA} events, B {c.EventsB} events");
        return status;
    }

    private static string Excerpt(string s, int at)
    {
        int start = Math.Max(0, at - 20);
        return JsonValue.Create(s.Substring(start, Math.Min(s.Length - start, 60))).ToJsonString();
    }
}
