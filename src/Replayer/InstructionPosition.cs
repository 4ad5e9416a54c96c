namespace VmReplay.Replayer;

/// <summary>
/// A point in a replay on a CPU that counts retired instructions: the moment
/// <see cref="Instructions"/> instructions had retired, then <see cref="Deliveries"/> interrupt
/// deliveries made there (each lands on a handler's first instruction and retires nothing). So
/// every instruction and every delivery is one step: a delivery at count N is position
/// (N, 1), between (N, 0), where the interrupted instruction is next, and (N + 1, 0), after the
/// handler's first instruction. Every replay of a trace reaches the same machine state at the
/// same position (traces/FORMAT.md, "Positions and seeking"). Positions order by count, then deliveries.
/// </summary>
public readonly record struct InstructionPosition(long Instructions, int Deliveries = 0) : IComparable<InstructionPosition>
{
    public int CompareTo(InstructionPosition other) =>
        Instructions != other.Instructions ? Instructions.CompareTo(other.Instructions) : Deliveries.CompareTo(other.Deliveries);

    public static bool operator <(InstructionPosition a, InstructionPosition b) => a.CompareTo(b) < 0;
    public static bool operator >(InstructionPosition a, InstructionPosition b) => a.CompareTo(b) > 0;
    public static bool operator <=(InstructionPosition a, InstructionPosition b) => a.CompareTo(b) <= 0;
    public static bool operator >=(InstructionPosition a, InstructionPosition b) => a.CompareTo(b) >= 0;

    /// <summary>Reads "1200" (instruction count 1200) or "1200+1" (the first interrupt delivery there); null if it is neither.</summary>
    public static InstructionPosition? TryParse(string text)
    {
        var parts = text.Replace("_", "").Replace(",", "").Split('+');
        if (parts.Length > 2 || !long.TryParse(parts[0], out long n) || n < 0) return null;
        int d = 0;
        if (parts.Length == 2 && (!int.TryParse(parts[1], out d) || d < 0)) return null;
        return new InstructionPosition(n, d);
    }

    public override string ToString() => Deliveries == 0
        ? $"instruction {Instructions}"
        : $"instruction {Instructions} + {Deliveries} interrupt deliver{(Deliveries == 1 ? "y" : "ies")}";
}
