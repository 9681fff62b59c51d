"""Column layout of the parameter, state and output arrays the kernels share (compile-time constants).

Times are int64 epoch milliseconds; ``NONE`` marks "no value yet". Machine states are MachineState codes.
"""

from __future__ import annotations

NONE = -(2**63)
FAR = 2**62

# ---- parameters per profile (site, machine class), rebuilt from the site config, never snapshotted; prof[L] is
# the profile row of each local machine. int64 parameters p_i[P, N_PI]
PI_SITE = 0
PI_WINDOW_MS = 1
PI_LATENESS_MS = 2
PI_DWELL_MS = 3
PI_MICRO_MS = 4
PI_OFFLINE_MS = 5
PI_STATE_MODE = 6  # 0 = code table, 1 = inferred
PI_CODE_SIG = 7
PI_CODE_LO = 8
PI_CODE_HI = 9
PI_UNMAPPED = 10
PI_RUN_SIG = 11
PI_ALARM_SIG = 12
PI_PART_SIG = 13
PI_REJ_SIG = 14
PI_REJ_MIN = 15
PI_MAINT_EVERY = 16  # 0 = off
PI_ALARM_LO = 17
PI_ALARM_HI = 18
PI_N_SPC = 19
PI_N_LIM = 20
PI_WO_SIG = 21  # work-order signal column (-1: none): its changes split operations, not setups
PI_RR_SIG = 22  # reject-reason signal column (-1: none): rejects counted per operation and reason (SI_RR_*)
N_PI = 23

# ---- float64 parameters p_f[P, N_PF]
PF_RUN_ABOVE = 0
PF_HYST = 1
PF_COUNTER_MAX = 2
PF_REJ_LIMIT = 3  # NaN = rule off; the reject rate a hold must catch (CUSUM alternative p1)
PF_JUMP_FACTOR = 4  # counter_jump_factor: parts per ideal cycle time a counter may grow by
PF_JUMP_SLACK = 5  # counter_jump_slack: parts a counter may grow by on top, however short the interval
PF_REJ_NOMINAL = 6  # the process's normal reject rate (CUSUM null p0)
PF_REJ_H = 7  # CUSUM decision threshold h (log-likelihood ratio)
N_PF = 8

MODE_CODE = 0
MODE_INFERRED = 1

# ---- aggregation state a_i[L, N_AI] (int64) and a_f[L, N_AF] (float64)
AI_MAX_TS = 0
AI_LATE = 1
AI_HAS_PART = 2
AI_HAS_REJ = 3
AI_CNT_SHIFT = 4  # shift start of the running totals in count_reported
AI_CUM_TOTAL = 5
AI_CUM_REJ = 6
AI_HOLD = 7  # reject-rate hold episode open
AI_HOLD_AT = 8  # window end of the window that raised the open hold
AI_CUSUM_N = 9  # parts since the raising CUSUM last left zero
N_AI = 10
AF_PART = 0
AF_REJ = 1
AF_CUSUM = 2  # Bernoulli CUSUM for "reject rate at the limit" against "at nominal" (raises a hold)
AF_RELEASE = 3  # the reverse CUSUM during a hold (releases it)
N_AF = 4

# ---- counter plausibility state g_i[L, N_GI] (int64) and g_f[L, N_GF] (float64): the last accepted reading
GI_MAX_TS = 0  # greatest ts of an accepted in-order reading (NONE: none yet)
GI_HAS_PART = 1
GI_HAS_REJ = 2
GI_TS_PART = 3  # ts of the reference value
GI_TS_REJ = 4
N_GI = 5
GF_PART = 0  # reference value (the last accepted one)
GF_REJ = 1
N_GF = 2
# verdicts per reading, and why a reading was refused (counter * 8 + kind; counter 0 parts, 1 rejects)
G_ACCEPT = 0
G_HOLD = 1  # a drop or jump waiting for the next reading to confirm or refute it
G_REFUSE = 2
G_RANGE = 1  # negative, not a whole number, or above counter_max
G_DROP = 2  # fell, and the next reading went on from the old value (a glitch)
G_JUMP = 3  # grew faster than the machine can, and the next reading went on from the old value
G_UNCONFIRMED = 4  # a drop or jump no later reading confirmed (end of input, or too many readings held)
# rebase bits per accepted reading: the counter restarts from this value without counting (a confirmed jump, or
# a confirmed drop to more than the machine could have made since the reset)
G_REBASE_PART = 1
G_REBASE_REJ = 2

# ---- closed-window rows wo_i[cap, N_WO]
WO_M = 0
WO_START = 1
WO_END = 2
WO_PARTS = 3
WO_REJ = 4
WO_SHIFT = 5
WO_CUM_TOTAL = 6
WO_CUM_REJ = 7
WO_HOLD = 8
WO_DETECTED = 9
WO_HOLD_AT = 10  # for a release (WO_HOLD = 2): window end of the window that raised the hold
N_WO = 11

# ---- state-machine state s_i[L, N_SI]
SI_LAST_TS = 0
SI_CUR = 1
SI_CUR_SINCE = 2
SI_CAND = 3
SI_CAND_SINCE = 4
SI_RAW = 5
SI_ACC_TS = 6  # timeline accounted into shift slots up to here
SI_DECLARED = 7  # current stop declared downtime
SI_EFF = 8  # downtime start of the declared stop (its first planned-production instant)
SI_AFTER_SETUP = 9
SI_RAN = 10  # ran since the last setup
SI_OP_QTY = 11  # parts counted in the current operation (work-order run), across shifts and counter resets
SI_OP_REJ = 12  # rejects counted in it
SI_OP_SINCE = 13  # when its counting began: the previous operation's finish, or the machine's first reading
SI_OP_FIRST = 14  # ts of its first counted part, NONE before
SI_OP_WIN = 15  # window index (ts // window) of the machine's last in-order reading
SI_OP_DIRTY = 16  # counts changed since the last progress record
SI_OP_WO = 17  # work-order code of the current operation (PI_WO_SIG), NONE before the signal showed one
SI_RR_CUR = 18  # reject-reason code last shown (PI_RR_SIG; sticky across readings and operations), NONE before
#: reasons counted per operation; rejects of a further reason in the same operation stay unattributed (the
#: operation's rejects minus its reasons' counts)
REASON_SLOTS = 8
SI_RR_CODE = 19  # SI_RR_CODE + j: reason code of slot j in the current operation, NONE when free
SI_RR_CNT = SI_RR_CODE + REASON_SLOTS  # SI_RR_CNT + j: rejects counted with it
N_SI = SI_RR_CNT + REASON_SLOTS

# ---- shift slots sh[L, SHIFT_SLOTS, N_SH]; durations in ms
SH_START = 0
SH_END = 1
SH_DT = 2  # SH_DT + state code: downtime by state (STOPPED..OFFLINE)
SH_MICRO = 10
SH_PSTOP = 11
SH_TOTAL = 12
SH_REJ = 13
N_SH = 14
# in the live state the slots are split by how often they are touched: sh_key[L, SHIFT_SLOTS, 2] = SH_START,
# SH_END (searched on every reading), sh_cnt[L, SHIFT_SLOTS, 2] = SH_TOTAL, SH_REJ (added to on every reading) and
# sh_dur[L, SHIFT_SLOTS, N_SD] = SH_DT.. SH_PSTOP (on state changes); snapshots hold the joined sh[L, slots, N_SH]
N_SK = 2
N_SC = 2
N_SD = SH_PSTOP - SH_DT + 1
# closed shift rows so[cap, N_SO] = [machine, detected_ts, *slot]
SO_M = 0
SO_DETECTED = 1
SO_SLOT = 2
N_SO = 2 + N_SH

# ---- rule state r_i[L, N_RI]; spc[L, n_spc, N_SPC_ST]; lim[L, n_lim, N_LIM_ST]
RI_LAST_TS = 0
RI_ALARM = 1  # alarm code of the open alarm episode, NONE when none
RI_CYCLES = 2
N_RI = 3
SPC_RUN = 0
SPC_SIDE = 1
SPC_SINCE = 2
SPC_OPEN = 3
N_SPC_ST = 4
LIM_SINCE = 0
LIM_FIRED = 1
N_LIM_ST = 2
# spc parameters: spc_i[P, n_spc, 3] = signal, kind (0 beyond_limits, 1 run_of_n), n; spc_f[..., 3] = lo, hi, center
SPC_BEYOND = 0
SPC_RUN_OF_N = 1

# ---- event records ev[cap, N_EV] int64 + evx[cap] float64
EV_KIND = 0
EV_M = 1
EV_OCC = 2
EV_DET = 3
EV_A = 4
EV_B = 5
EV_C = 6
EV_D = 7
EV_WO = 8  # operation records: the operation's work-order code (SI_OP_WO), NONE when unknown
N_EV = 9

K_STATE = 1  # a = from, b = to
K_DT_START = 2  # a = state
K_DT_END = 3  # a = state, b = started_at
K_OP_START = 4
K_OP_FINISH = 5  # a = parts, b = rejects, c = since, d = first part ts, wo = work-order code (layout SI_OP_*)
K_OP_PROGRESS = 10  # same as K_OP_FINISH, for the running operation at the end of a window with counts
K_OP_REASON = 11  # follows its K_OP_FINISH/K_OP_PROGRESS record, one per reason slot used: a = rejects, c = code
K_SPC = 6  # a = rule index, b = violated side/limit (0 lower, 1 upper, 2 run), x = value
K_ALARM = 7  # a = alarm code
K_CYCLES = 8  # a = multiple reached
K_LIMIT = 9  # a = limit index, x = value

# machine states (as MachineState)
UNKNOWN = 0
RUNNING = 1
STOPPED = 2
BREAKDOWN = 3
SETUP = 4
MATERIAL = 5
PLANNED_STOP = 6
OFFLINE = 7
N_STATES = 8
