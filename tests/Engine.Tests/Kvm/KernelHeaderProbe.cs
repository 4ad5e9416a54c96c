using System.Diagnostics;

namespace VmReplay.Engine.Tests.Kvm;

/// <summary>
/// Compiles a tiny C program against this machine's linux/kvm.h and returns the sizes, offsets and
/// ioctl numbers it prints, so the C# layouts are checked against the real header.
/// </summary>
internal static class KernelHeaderProbe
{
    private static readonly Lazy<Dictionary<string, ulong>> Values = new(Build);

    public static ulong Get(string name) =>
        Values.Value.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"probe printed no value for {name}");

    private const string Source = """
        #include <stdio.h>
        #include <stddef.h>
        #include <linux/kvm.h>
        #define S(t) printf("sizeof %s %zu\n", #t, sizeof(struct t));
        #define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f));
        #define I(n) printf("ioctl %s %lu\n", #n, (unsigned long)(n));
        int main(void) {
          S(kvm_regs) S(kvm_sregs) S(kvm_segment) S(kvm_dtable) S(kvm_fpu) S(kvm_xsave) S(kvm_xcrs) S(kvm_xcr)
          S(kvm_vcpu_events) S(kvm_debugregs) S(kvm_guest_debug) S(kvm_userspace_memory_region) S(kvm_cpuid_entry2)
          S(kvm_msr_entry) S(kvm_enable_cap) S(kvm_msr_filter) S(kvm_msr_filter_range) S(kvm_dirty_log)
          O(kvm_regs, rip) O(kvm_regs, rflags) O(kvm_sregs, gdt) O(kvm_sregs, cr0) O(kvm_sregs, efer) O(kvm_sregs, interrupt_bitmap)
          O(kvm_segment, selector) O(kvm_segment, type) O(kvm_segment, unusable) O(kvm_fpu, xmm) O(kvm_fpu, mxcsr)
          O(kvm_vcpu_events, sipi_vector) O(kvm_vcpu_events, flags) O(kvm_vcpu_events, triple_fault) O(kvm_vcpu_events, exception_payload)
          O(kvm_msr_filter, ranges) O(kvm_msr_filter_range, bitmap)
          O(kvm_run, request_interrupt_window) O(kvm_run, immediate_exit) O(kvm_run, exit_reason) O(kvm_run, ready_for_interrupt_injection)
          O(kvm_run, if_flag) O(kvm_run, flags) O(kvm_run, cr8) O(kvm_run, apic_base)
          O(kvm_run, io.direction) O(kvm_run, io.size) O(kvm_run, io.port) O(kvm_run, io.count) O(kvm_run, io.data_offset)
          O(kvm_run, mmio.phys_addr) O(kvm_run, mmio.data) O(kvm_run, mmio.len) O(kvm_run, mmio.is_write)
          O(kvm_run, fail_entry.hardware_entry_failure_reason) O(kvm_run, fail_entry.cpu)
          O(kvm_run, internal.suberror) O(kvm_run, internal.ndata) O(kvm_run, internal.data)
          O(kvm_run, debug.arch.exception) O(kvm_run, debug.arch.pc) O(kvm_run, debug.arch.dr6) O(kvm_run, debug.arch.dr7)
          O(kvm_run, system_event.type) O(kvm_run, system_event.ndata) O(kvm_run, system_event.data)
          O(kvm_run, msr.error) O(kvm_run, msr.reason) O(kvm_run, msr.index) O(kvm_run, msr.data) O(kvm_run, hw.hardware_exit_reason)
          I(KVM_GET_API_VERSION) I(KVM_CREATE_VM) I(KVM_CHECK_EXTENSION) I(KVM_GET_VCPU_MMAP_SIZE) I(KVM_GET_SUPPORTED_CPUID)
          I(KVM_CREATE_VCPU) I(KVM_GET_DIRTY_LOG) I(KVM_SET_USER_MEMORY_REGION) I(KVM_SET_TSS_ADDR) I(KVM_SET_IDENTITY_MAP_ADDR)
          I(KVM_ENABLE_CAP) I(KVM_X86_SET_MSR_FILTER) I(KVM_RUN) I(KVM_GET_REGS) I(KVM_SET_REGS) I(KVM_GET_SREGS) I(KVM_SET_SREGS)
          I(KVM_INTERRUPT) I(KVM_GET_MSRS) I(KVM_SET_MSRS) I(KVM_SET_SIGNAL_MASK) I(KVM_GET_FPU) I(KVM_SET_FPU) I(KVM_SET_CPUID2)
          I(KVM_GET_MP_STATE) I(KVM_SET_MP_STATE) I(KVM_SET_GUEST_DEBUG) I(KVM_GET_VCPU_EVENTS) I(KVM_SET_VCPU_EVENTS)
          I(KVM_GET_DEBUGREGS) I(KVM_SET_DEBUGREGS) I(KVM_GET_XSAVE) I(KVM_SET_XSAVE) I(KVM_GET_XCRS) I(KVM_SET_XCRS)
          return 0;
        }
        """;

    private static Dictionary<string, ulong> Build()
    {
        string dir = Directory.CreateTempSubdirectory("vmreplay-kvmh-").FullName;
        try
        {
            string c = Path.Combine(dir, "probe.c"), exe = Path.Combine(dir, "probe");
            File.WriteAllText(c, Source);
            Run("gcc", $"-o {exe} {c}");
            var values = new Dictionary<string, ulong>();
            foreach (var line in Run(exe, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[1]] = ulong.Parse(parts[2]);
            }
            return values;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {error}");
        return output;
    }
}
