using VmReplay.Engine.Kvm;
using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Engine.Backend;

/// <summary>
/// Builds the backend a command asked for: KVM, the software CPU, or (auto) KVM where /dev/kvm
/// is usable and backed by hardware virtualization, the software CPU elsewhere. Every machine
/// built is appended, by name, to the file <c>$VMREPLAY_BACKEND_LOG</c> when that is set (CI
/// reports which backends its tests used).
/// </summary>
public static class MachineBackends
{
    public const string LogVariable = "VMREPLAY_BACKEND_LOG";

    /// <summary>The KVM device a machine opens unless told otherwise (<c>--kvm</c>).</summary>
    public const string DefaultKvmDevice = KvmSystem.DefaultPath;

    /// <summary>
    /// Creates the machine. <paramref name="why"/> says why auto chose the software CPU (e.g.
    /// "/dev/kvm does not exist"), or null. Throws <see cref="BackendUnavailableException"/> when
    /// KVM was asked for and cannot be used.
    /// </summary>
    public static IMachineBackend Create(CpuBackendChoice choice, string kvmPath, MachineBackendOptions options, out string? why)
    {
        why = null;
        IMachineBackend machine;
        switch (choice)
        {
            case CpuBackendChoice.Soft:
                machine = SoftMachine.Create(options);
                break;
            case CpuBackendChoice.Kvm:
                try { machine = KvmMachine.Open(kvmPath, options); }
                catch (KvmUnavailableException e) { throw new BackendUnavailableException($"--cpu kvm: {e.Message}", e); }
                break;
            default:
                if (choice == CpuBackendChoice.Auto && HardwareVirtualization.WhyAutoPassesOver(kvmPath) is { } slow)
                {
                    why = slow;
                    machine = SoftMachine.Create(options);
                    break;
                }
                try { machine = KvmMachine.Open(kvmPath, options); }
                catch (KvmUnavailableException e)
                {
                    why = e.Message;
                    machine = SoftMachine.Create(options);
                }
                break;
        }
        Log(machine.Kind);
        return machine;
    }

    private static void Log(CpuBackendKind kind)
    {
        if (Environment.GetEnvironmentVariable(LogVariable) is not { Length: > 0 } path) return;
        try { File.AppendAllText(path, kind.Name() + "\n"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
