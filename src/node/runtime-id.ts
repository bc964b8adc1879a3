// Container ids as the kubelet reports them name their runtime: containerd://<id>, cri-o://<id>. The node
// worker picks how to pause, resume and checkpoint a container by it.

/** The runtime a kubelet container id names ('containerd', 'cri-o'), '' when it names none. */
export function runtimeOf(runtimeId: string): string {
  return parseRuntimeId(runtimeId).runtime;
}

/** Splits `<runtime>://<id>`; an id without a scheme has runtime ''. */
export function parseRuntimeId(runtimeId: string): { runtime: string; id: string } {
  const match = /^([a-z0-9-]+):\/\/(.+)$/.exec(runtimeId);
  return match ? { runtime: match[1]!, id: match[2]! } : { runtime: '', id: runtimeId };
}
