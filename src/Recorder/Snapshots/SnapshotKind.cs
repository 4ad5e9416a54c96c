namespace VmReplay.Recorder.Snapshots;

/// <summary>A full snapshot holds every non-zero page; an incremental one the pages written since the previous snapshot.</summary>
public enum SnapshotKind : byte
{
    Full = 1,
    Incremental = 2,
}
