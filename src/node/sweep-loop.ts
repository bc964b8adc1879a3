// The rhythm of the node worker's safety nets (the frozen-pod and the archive sweepers): a round now, then
// one `intervalMs` after each round ends (rounds never overlap), until stop(), which waits for a round under
// way so the worker closes its Temporal connection only after the last call.
export function repeatRounds(round: () => Promise<unknown>, intervalMs: number, onError: (err: Error) => void): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const next = () => {
    running = round()
      .then(
        () => undefined,
        (err: Error) => onError(err),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(next, intervalMs).unref();
      });
  };
  next();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
