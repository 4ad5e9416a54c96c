using System.Reflection;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Run;
using VmReplay.Engine.SoftCpu;
using VmReplay.Recorder;
using VmReplay.Replayer;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// The published tool is precompiled (ReadyToRun) with its own assemblies and Iced as one
/// version bubble. A class whose layout depends on a struct from outside the bubble (a framework
/// struct other than the few it promises never to change: TimeSpan, ReadOnlyMemory, a tuple,
/// Vector128) has no fixed layout there, and the precompiled code then loads the offset of each
/// of its fields from a table before reading it. On the software CPU's registers that was every
/// instruction handler (about 7,000 reads of the offset table in its image); on the recorder's
/// and the replayer's per-exit classes, every exit. The JIT's optimised tier knows the layout,
/// but a short guest never leaves the precompiled code. These are the classes every instruction
/// or every exit touches; they keep to fields whose layout the bubble fixes.
/// </summary>
public sealed class PrecompiledLayoutTests
{
    private static readonly Assembly[] Bubble =
        [typeof(Processor).Assembly, typeof(PcPlatform).Assembly, typeof(TraceWriter).Assembly, typeof(ReplaySession).Assembly, typeof(Iced.Intel.Instruction).Assembly];

    // Every class of the software CPU, and the run loop's, the devices', the recorder's and the
    // replayer's classes that take part in each exit.
    private static IEnumerable<Type> HotClasses()
    {
        var engine = typeof(Processor).Assembly;
        foreach (var t in engine.GetTypes())
            if (t.IsClass && !t.IsGenericTypeDefinition && t.Namespace?.StartsWith("VmReplay.Engine.SoftCpu", StringComparison.Ordinal) == true && !IsCompilerGenerated(t))
                yield return t;
        yield return typeof(VcpuRunner);
        yield return typeof(VirtualTimeEvents);
        yield return typeof(LiveHostEvents);
        foreach (var t in typeof(PcPlatform).Assembly.GetTypes())
            if (t.IsClass && !t.IsGenericTypeDefinition && !t.IsAbstract && !IsCompilerGenerated(t) && t.GetInterface("IBusDevice") is not null)
                yield return t;
        yield return typeof(PcPlatform);
        yield return typeof(TraceWriter);
        yield return typeof(TraceWriter).Assembly.GetType("VmReplay.Recorder.Events.EventBatch", throwOnError: true)!;
        yield return typeof(Snapshots.SnapshotRecorder);
        yield return typeof(RecordingHostEvents);
        yield return typeof(ServicePointLog);
        yield return typeof(RecordingSources);
        yield return typeof(ReplayHostEvents);
        yield return typeof(EventCursor);
        yield return typeof(ReplaySources);
        yield return typeof(SnapshotVerifier);
    }

    [Fact]
    public void TheClassesOnTheHotPathsHaveALayoutFixedInTheVersionBubble()
    {
        var loose = HotClasses().Distinct()
            .SelectMany(t => LooseFields(t).Select(f => $"{t.FullName}.{f.Name} ({f.FieldType})"))
            .ToList();
        Assert.Contains(typeof(Processor), HotClasses());
        Assert.True(HotClasses().Count() > 40, $"only {HotClasses().Count()} classes were found");
        Assert.Empty(loose);
    }

    [Fact]
    public void TheCheckFindsAFrameworkStructOutsideTheBubble()
    {
        Assert.NotEmpty(LooseFields(typeof(WithTimeSpan)));
        Assert.NotEmpty(LooseFields(typeof(WithTuple)));
        Assert.Empty(LooseFields(typeof(WithNullableAndEnum)));
    }

    private sealed class WithTimeSpan { public TimeSpan Elapsed = TimeSpan.Zero; }
    private sealed class WithTuple { public (int, long) Pair = (0, 0); }
    private sealed class WithNullableAndEnum { public long? Deadline = null; public DayOfWeek Day = DayOfWeek.Monday; public string? Name = null; public int[]? Values = null; }

    private static bool IsCompilerGenerated(Type t) => t.Name.Contains('<') || t.Name.Contains('>');

    private static IEnumerable<FieldInfo> LooseFields(Type type)
    {
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (!Fixed(f.FieldType, 0)) yield return f;
    }

    // Whether a field of this type leaves its holder's layout fixed in the bubble (crossgen2's
    // rule: references, primitives, enums and pointers always; a struct if it is the bubble's
    // own and its fields are, or if the framework marks it [NonVersionable]).
    private static bool Fixed(Type t, int depth)
    {
        if (depth > 8) return false;
        if (!t.IsValueType || t.IsPointer || t.IsFunctionPointer || t.IsPrimitive || t.IsEnum) return true;
        if (t.IsGenericType && !t.GetGenericArguments().All(a => Fixed(a, depth + 1))) return false;
        if (!Bubble.Contains(t.Assembly))
            return t.GetCustomAttributesData().Any(a => a.AttributeType.Name == "NonVersionableAttribute");
        return t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).All(f => Fixed(f.FieldType, depth + 1));
    }
}
