namespace VmReplay.Engine.KvmBackend;

/// <summary>One CPUID feature bit the model hides from the guest, and why.</summary>
public readonly record struct CpuidRemoval(uint Leaf, uint Subleaf, CpuidRegister Register, int Bit, string Feature, string Reason);

public enum CpuidRegister { Eax, Ebx, Ecx, Edx }
