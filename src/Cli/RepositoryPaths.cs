namespace VmReplay.Cli;

/// <summary>Finds files of the source tree (sample guests, benchmark sources) from the tool's location.</summary>
internal static class RepositoryPaths
{
    /// <summary>The checkout holding guests/Makefile, searched upward from the tool and the working directory.</summary>
    public static string? Root()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "guests", "Makefile"))) return dir.FullName;
        }
        return null;
    }

    public static string Require(params string[] relative)
    {
        var root = Root() ?? throw new UserError("cannot find the vmreplay source tree (guests/Makefile) above the tool or the current directory");
        var path = Path.Combine([root, .. relative]);
        if (!File.Exists(path)) throw new UserError($"{path}: not found (build the guests with 'make -C guests')");
        return path;
    }
}
