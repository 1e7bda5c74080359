/*
 * Wall clock. There is no battery-backed RTC on the board, so the time is
 * set over the console and advanced from the SysTick millisecond counter.
 * Civil date conversion uses the days-from-epoch algorithm on 400-year eras.
 */
#include "rtc.h"

#include "fmt.h"
#include "system.h"

static uint32_t base_epoch;
static uint32_t base_ms;
static int is_set;

static const char *const month_names[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const uint8_t month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

void rtc_set(uint32_t epoch)
{
    base_epoch = epoch;
    base_ms = sys_millis();
    is_set = 1;
}

uint32_t rtc_now(void)
{
    return base_epoch + (sys_millis() - base_ms) / 1000u;
}

int rtc_is_set(void)
{
    return is_set;
}

static int is_leap(unsigned y)
{
    return (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
}

static int32_t days_from_civil(int32_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int32_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (m > 2 ? m - 3 : m + 9) + 2u) / 5u + d - 1u;
    unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

void rtc_to_datetime(uint32_t epoch, datetime_t *dt)
{
    int32_t days = (int32_t)(epoch / 86400u);
    uint32_t secs = epoch % 86400u;
    dt->hour = (uint8_t)(secs / 3600u);
    dt->minute = (uint8_t)(secs / 60u % 60u);
    dt->second = (uint8_t)(secs % 60u);
    dt->weekday = (uint8_t)((days + 4) % 7); /* 1970-01-01 was a Thursday */

    int32_t z = days + 719468;
    int32_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    int32_t y = (int32_t)yoe + era * 400;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;
    dt->day = (uint8_t)(doy - (153u * mp + 2u) / 5u + 1u);
    dt->month = (uint8_t)(mp < 10 ? mp + 3 : mp - 9);
    dt->year = (uint16_t)(y + (dt->month <= 2));
}

uint32_t rtc_from_datetime(const datetime_t *dt)
{
    int32_t days = days_from_civil(dt->year, dt->month, dt->day);
    return (uint32_t)days * 86400u + dt->hour * 3600u + dt->minute * 60u + dt->second;
}

static int parse_fields(const char *s, char sep, unsigned *out, int count)
{
    for (int i = 0; i < count; i++) {
        unsigned v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10u + (unsigned)(*s++ - '0');
            if (++digits > 4) {
                return -1;
            }
        }
        if (digits == 0) {
            return -1;
        }
        out[i] = v;
        if (i + 1 < count) {
            if (*s++ != sep) {
                return -1;
            }
        }
    }
    return *s == '\0' ? 0 : -1;
}

int rtc_parse(const char *date, const char *time, uint32_t *epoch)
{
    unsigned d[3], t[3] = { 0, 0, 0 };
    if (parse_fields(date, '-', d, 3) != 0) {
        return -1;
    }
    if (time != NULL && parse_fields(time, ':', t, 3) != 0) {
        return -1;
    }
    if (d[0] < 1970 || d[0] > 2105 || d[1] < 1 || d[1] > 12 || t[0] > 23 || t[1] > 59 ||
        t[2] > 59) {
        return -1;
    }
    unsigned mdays = month_days[d[1] - 1] + (d[1] == 2 && is_leap(d[0]));
    if (d[2] < 1 || d[2] > mdays) {
        return -1;
    }
    datetime_t dt = { (uint16_t)d[0], (uint8_t)d[1], (uint8_t)d[2],
                      (uint8_t)t[0],  (uint8_t)t[1], (uint8_t)t[2], 0 };
    *epoch = rtc_from_datetime(&dt);
    return 0;
}

int rtc_format(uint32_t epoch, char *buf, size_t size)
{
    datetime_t dt;
    rtc_to_datetime(epoch, &dt);
    return fmt_snprintf(buf, size, "%s %04u-%02u-%02u %02u:%02u:%02u", day_names[dt.weekday],
                        (unsigned)dt.year, (unsigned)dt.month, (unsigned)dt.day,
                        (unsigned)dt.hour, (unsigned)dt.minute, (unsigned)dt.second);
}

const char *rtc_month_name(unsigned month)
{
    return (month >= 1 && month <= 12) ? month_names[month - 1] : "?";
}
