namespace VmReplay.Fuzz;

/// <summary>The checked-in seed inputs: tests/Fuzz/Corpus/trace (valid traces of every format version and the hostile ones) and tests/Fuzz/Corpus/rsp (client byte streams).</summary>
public static class Corpus
{
    /// <summary>tests/Fuzz/Corpus/<paramref name="target"/> in the checkout this build came from.</summary>
    public static string Directory(string target)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Fuzz", "Corpus", target);
            if (System.IO.Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"no tests/Fuzz/Corpus/{target} above {AppContext.BaseDirectory}");
    }

    /// <summary>Every file of the corpus of <paramref name="target"/>, by name, in name order.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> Load(string target) =>
        System.IO.Directory.GetFiles(Directory(target)).Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToList();

    /// <summary>A valid version 2 trace of the hello guest, the base the hostile traces are made from.</summary>
    public static byte[] HelloV2 => File.ReadAllBytes(Path.Combine(Directory("trace"), "hello-v2.vmtrace"));
}
