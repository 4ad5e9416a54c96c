namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// The linear addresses both CPUs run a case at (native-runner.c has the same constants): the
/// instruction's page, and the data buffer memory operands point into, with unmapped pages
/// either side of it on both.
/// </summary>
internal static class DifferentialLayout
{
    public const ulong DataAddress = 0x1000_0000;
    public const int DataSize = 0x1000;
    public const ulong CodeAddress = 0x1001_0000;
}
