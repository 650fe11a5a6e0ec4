#!/usr/bin/env bash
# Systematic concurrency tests (Microsoft.Coyote 1.7.11): build tests/Photon.Coyote, binary-rewrite it and
# Photon.Kernel.dll (`coyote rewrite`), then explore each test with `coyote test` for N iterations.
#   tests/coyote.sh 300 10   # CI (test.sh): up to 300 iterations per test, and no new iteration after 10 s of one test
#   tests/coyote.sh 100000   # the long run (no time budget)
# The Coyote tool targets net8.0; it runs on the .NET 10 runtime with DOTNET_ROLL_FORWARD=Major and rewrites and
# tests net10.0 assemblies. The canary test must FAIL (Coyote must find its lost update), or exploration is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-300}
seconds=${2:-0} # per test; 0 = no budget (Coyote's --timeout: no new iteration starts after it)
export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
dotnet build tests/Photon.Coyote -c Release -warnaserror -nologo -clp:ErrorsOnly >/dev/null
out=tests/Photon.Coyote/bin/Release/net10.0
dotnet coyote rewrite "$out/rewrite.coyote.json" >/dev/null
status=0
total_paths=0
start=$SECONDS
run() {  # run TEST EXPECT(0 bugs|bug) [extra coyote test flags]
  local log
  # --skip-potential-deadlocks: Coyote does not model System.Threading.Lock, so when the lock-free check path lets a
  # checker reach the manager's lock while a revoker Coyote has paused holds it, its periodic monitor reports a
  # "potential deadlock" although every execution completes (checked: 50 fair paths each, all terminating). Assertion
  # failures are still reported, and a run that really hangs is killed by the timeout and fails (no bug count).
  # --deadlock-timeout 50: such a path otherwise waits out the 1 s default before it is resolved; with 300 paths per
  # test that wait was most of the run (RevokeRacingDerive: 20 paths in 22 s at 1000 ms, 1.8 s at 20 ms, same result).
  # No --max-steps: the tests wait on Coyote-controlled primitives (the QueuePair device sleeps on a SemaphoreSlim
  # doorbell, the run-lane thief makes a bounded number of attempts), so every path ends by itself well inside
  # Coyote's default step bound and reaches its final assertions.
  log=$(timeout 900 dotnet coyote test "$out/Photon.Coyote.dll" -m "$1" -i "$iterations" -t "$seconds" --skip-potential-deadlocks --deadlock-timeout 50 "${@:3}" 2>&1) || true
  total_paths=$((total_paths + $(grep -oE 'Explored [0-9]+ execution paths?' <<<"$log" | grep -oE '[0-9]+' || echo 0)))
  local bugs paths uncontrolled
  bugs=$(grep -oE 'Found [0-9]+ bugs?' <<<"$log" | head -1 | grep -oE '[0-9]+' || echo "?")
  paths=$(grep -oE 'Explored [0-9]+ execution paths?' <<<"$log" | grep -oE '[0-9]+' || echo "?")
  uncontrolled=$(grep -oE 'Found [0-9]+ uncontrolled invocations?' <<<"$log" | grep -oE '[0-9]+' || echo 0)
  echo "coyote: $1: $paths paths explored, $bugs bugs, $uncontrolled uncontrolled invocations"
  if [ "$2" = bug ]; then
    [ "$bugs" != "?" ] && [ "$bugs" -gt 0 ] || { echo "coyote: the canary's bug was NOT found: exploration is broken"; status=1; }
  else
    [ "$bugs" = 0 ] || { echo "$log" | tail -30; status=1; }
  fi
}
run Canary_LostUpdate_IsFound bug
run RevokeRacingDeriveAndCheck_LeavesNoLiveDescendant none
run ConcurrentRevokeOfParentAndChild_RevokesEachOnce none
run WakeRacingWaitAndCancel_IsDeliveredExactlyOnce none
run OneWakeTwoWaitersOneCancelled_GoesToExactlyOne none
# RunLane's volatile and collection accesses all sit inside its lock: Coyote's race points there would pause a task
# holding a System.Threading.Lock (which Coyote cannot see), so the other CPU blocks on it and every such path waits
# out the 1 s deadlock timeout. The test's own Interleave calls between lane operations give the interleavings.
run OwnerAndThief_RunEveryItemExactlyOnce none --skip-volatile-races --skip-collection-races --skip-atomic-races
# The per-CPU lock-free run ring: every volatile and atomic access is a race point (no lock inside), and the lane
# built from it (ring + locked overflow) the same way: a pause inside the overflow's lock costs a deadlock timeout, so
# it gets half the budget.
run RingOwnerAndThief_TakeEveryItemExactlyOnce none
seconds=$(( seconds == 0 ? 0 : (seconds + 1) / 2 )) run LaneOwnerAndThief_TakeEveryItemExactlyOnceInOwnerOrder none
seconds=$(( seconds == 0 ? 0 : (seconds + 1) / 2 )) run SharedBatchIntoRingRacingThief_TakeEveryItemExactlyOnceInOwnerOrder none
# The lane's producer side takes no lock of the consumers' (a CPU's overflow lane: none at all): every race point on,
# one consumer (no pause inside a lock another task needs), so its publication interleaves with refills and steals.
run ProducerRacingRefillAndSteal_TakeEveryItemOnceInOrder none
run SubmitCompleteCancel_EachRequestCompletesOnceWithItsOwnAnswer none
run CloseRacingSubmitAndComplete_EveryRequestEndsTyped none
# A device answering one tag twice from two threads and once more in a burst: the tag is freed once.
run DuplicateCompletionsOfOneTagRacing_FreeItOnce none
# Sink submissions (no task per request: a NIC's posted receive buffers) racing answers and a close: reported once each.
run SinkSubmitsRacingCompleteAndClose_EachReportedOnceUnderItsCookie none
run MoveRacingReceiveAndClose_HandleIsInExactlyOnePlace none
run TwoSendsMovingOneHandle_OnlyOneWins none
run UnloadRacingCalls_NoModuleCodeRunsAfterUnload none
run RevokeOfRegistrationRacingCallsAndUnload_EveryCallEndsTyped none
# The tests added last get half the per-test budget (10 s of the CI's 20) so the whole run stays inside its ~4.5 min.
budget() { if [ "$seconds" = 0 ]; then echo 0; else echo $(( seconds < $1 ? seconds : $1 )); fi; }
# The scheduler's park/unpark protocol on Coyote-controlled CPUs (parks without timeout: a lost unpark deadlocks).
# Race points skipped as for the run lane: RunLane, the live-task stripes and the timer queue touch them inside a
# System.Threading.Lock; the kernel's seam points between the protocol's steps give the interleavings.
seconds=$(budget 10) run EnqueueRacingPark_EveryTaskRuns none --skip-volatile-races --skip-collection-races --skip-atomic-races
seconds=$(budget 10) run LocalSpawnRacingStealAndPark_EveryChildRunsOnce none --skip-volatile-races --skip-collection-races --skip-atomic-races
seconds=$(budget 10) run ShutdownRacingParkAndSpawn_EveryTaskEnds none --skip-volatile-races --skip-collection-races --skip-atomic-races
# A task's finish within its first run (a plain-store claim) racing Cancel, a reader of Completion and shutdown: every
# race point on, so the claim's stores and the Completion handshake interleave (a pause inside a run lane's lock costs
# a deadlock timeout, as for the lane tests).
seconds=$(budget 10) run FirstRunFinishRacingCancelAndCompletion_EndsOnceAndAgrees none
# A pooled task's handle (cancel, join, state) racing its finish, its retirement and the object's reuse by the next spawn.
seconds=$(budget 10) run HandleRacingFinishRetireAndReuse_ReachesOnlyItsOwnGeneration none
# The IPC direct hand-off to a parked kernel-task receive racing its cancellation (resumed through KernelScheduler.Post).
seconds=$(budget 10) run HandOffRacingCancel_IsDeliveredExactlyOnce none --skip-volatile-races --skip-collection-races --skip-atomic-races
# A kernel-task receive racing a send and a close (into a buffer), or a send and its cancellation (a message, refilling
# the one the receiver disposed and the endpoint kept).
seconds=$(budget 10) run ReceiveIntoRacingSendAndClose_ReceivesTheSentMessageOnce none --skip-volatile-races --skip-collection-races --skip-atomic-races
seconds=$(budget 10) run KeptMessageHandOffRacingCancel_IsDeliveredExactlyOnce none --skip-volatile-races --skip-collection-races --skip-atomic-races
# A packed batched send and a batched receive into the caller's buffer racing the close of the receiving end.
seconds=$(budget 10) run BatchSendAndReceiveRacingClose_EveryMessageOnceInOrderAndNothingStaysCharged none
# Unloading a filesystem module while a filesystem it mounted is in use (Busy until unmounted).
seconds=$(budget 10) run UnloadRacingIoOnMountedFileSystem_IsRefusedBusy none
seconds=$(budget 10) run UnloadRacingUnmountAndIo_NoModuleCodeRunsAfterUnload none
seconds=$(budget 10) run MountRacingUnload_LeavesNoMountOfAnUnloadedModule none
# The NIC driver's inline transmit: two submitters draining one TX queue pair (one drainer at a time; none left behind).
seconds=$(budget 10) run TwoSubmittersOnOneQueue_EverySendEndsOnceInOrder none
# A frame's lease on a sender's lent memory (vm18): readers racing the revocation that hands the memory back.
seconds=$(budget 10) run ReadersRacingRevoke_NeverReadFreedMemoryAndTheRevokeCompletes none
# Deterministic replays of bugs found (scripted interleavings, no exploration): one iteration is the whole test
# (no time budget: with --timeout, coyote test keeps starting iterations until it runs out, whatever -i says).
iterations=1 seconds=0 run Replay_CloseAfterReserve_SendSucceedsAndHandleIsGone none
iterations=1 seconds=0 run Replay_FindBeforeUnloadCallAfter_RunsNoModuleCode none
iterations=1 seconds=0 run Replay_ShutdownBetweenSpawnCheckAndEnqueue_TaskIsCanceled none --skip-volatile-races --skip-collection-races --skip-atomic-races
echo "coyote: $total_paths execution paths explored in total in $((SECONDS - start)) s"
exit $status
