namespace VmReplay.Engine.Backend;

/// <summary>
/// The linear pages a vCPU reads, writes and executes from, collected while it runs: supersets of
/// every page a data access the backend's data watchpoints compare went to (guest reads and
/// writes, interrupt frames, descriptor updates), and of every page holding an instruction that
/// began executing, in whatever address space. A debugger that knows which pages a stretch of a
/// replay touches can pass over the stretch when looking back for an access to a watched range
/// or a breakpoint outside them.
/// </summary>
public interface IPageLog
{
    /// <summary>Whether pages are collected (off at first: collecting costs a little on every access that is not a cached translation's).</summary>
    bool Enabled { get; set; }

    /// <summary>
    /// The pages read, written and executed from since the last call or since collecting began;
    /// collecting goes on from here. Empty while not <see cref="Enabled"/>.
    /// </summary>
    PageSets Take();

    /// <summary>As <see cref="Take"/>, without starting anew: what the current collection holds.</summary>
    PageSets Peek();
}
