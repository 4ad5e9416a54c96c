namespace VmReplay.Engine.Backend;

/// <summary>
/// The linear pages a vCPU's writes go to, collected while it runs: a superset of every page a
/// guest write, an interrupt frame or any other store the backend's data watchpoints compare
/// went to, in whatever address space. A debugger that knows which pages a stretch of a replay
/// writes can pass over the stretch when looking back for a write to a watched range outside them.
/// </summary>
public interface IWrittenPageLog
{
    /// <summary>Whether writes are collected (off at first: collecting costs a little on every write that is not a cached translation's).</summary>
    bool Enabled { get; set; }

    /// <summary>
    /// The linear pages (4 KiB aligned) written since the last call or since collecting began,
    /// sorted; collecting goes on from here. Empty while not <see cref="Enabled"/>.
    /// </summary>
    ulong[] Take();

    /// <summary>As <see cref="Take"/>, without starting anew: what the current collection holds.</summary>
    ulong[] Peek();
}
