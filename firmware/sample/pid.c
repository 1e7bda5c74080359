/*
 * PID controller. The derivative acts on the measurement (no kick on
 * set-point changes) and the integrator only integrates while the output
 * is not saturated in the same direction.
 */
#include "pid.h"

#include <string.h>

void pid_init(pid_ctrl_t *pid, fix16_t kp, fix16_t ki, fix16_t kd, fix16_t out_min,
              fix16_t out_max)
{
    memset(pid, 0, sizeof *pid);
    pid->out_min = out_min;
    pid->out_max = out_max;
    pid_set_gains(pid, kp, ki, kd);
}

void pid_set_gains(pid_ctrl_t *pid, fix16_t kp, fix16_t ki, fix16_t kd)
{
    pid->kp = kp;
    pid->ki = ki;
    pid->kd = kd;
}

void pid_reset(pid_ctrl_t *pid)
{
    pid->integral = 0;
    pid->primed = 0;
    pid->last_output = 0;
    pid->p_term = pid->i_term = pid->d_term = 0;
}

fix16_t pid_update(pid_ctrl_t *pid, fix16_t setpoint, fix16_t measured, fix16_t dt_s)
{
    fix16_t error = setpoint - measured;
    if (!pid->primed) {
        pid->prev_measured = measured;
        pid->primed = 1;
    }

    pid->p_term = fix_mul(pid->kp, error);

    fix16_t d_meas = dt_s > 0 ? fix_div(measured - pid->prev_measured, dt_s) : 0;
    pid->d_term = -fix_mul(pid->kd, d_meas);
    pid->prev_measured = measured;

    fix16_t trial = fix_add_sat(pid->p_term, fix_add_sat(pid->i_term, pid->d_term));
    int saturated_high = trial >= pid->out_max && error > 0;
    int saturated_low = trial <= pid->out_min && error < 0;
    if (!saturated_high && !saturated_low) {
        pid->integral = fix_add_sat(pid->integral, fix_mul(error, dt_s));
        pid->i_term = fix_mul(pid->ki, pid->integral);
        /* keep the integral term alone within the output range */
        if (pid->i_term > pid->out_max && pid->ki > 0) {
            pid->i_term = pid->out_max;
            pid->integral = fix_div(pid->out_max, pid->ki);
        } else if (pid->i_term < pid->out_min && pid->ki > 0) {
            pid->i_term = pid->out_min;
            pid->integral = fix_div(pid->out_min, pid->ki);
        }
    }

    fix16_t out = fix_add_sat(pid->p_term, fix_add_sat(pid->i_term, pid->d_term));
    out = fix_clamp(out, pid->out_min, pid->out_max);
    pid->last_output = out;
    return out;
}
