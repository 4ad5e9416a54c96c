namespace VmReplay.Engine.Run;

/// <summary>A guest write to a write-trapped page: where, what was written and what was there before.</summary>
public sealed record TrappedWrite(ulong Address, byte[] Data, byte[] Previous);
